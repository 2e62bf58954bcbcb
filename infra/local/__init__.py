"""The embedded local stack behind ``python -m infra.local`` (``make run``).

Modules, imported by path: ``template`` (template.yaml as data, intrinsics resolved locally),
``resources`` (its queues, tables and bucket created on moto), ``poller`` (Lambda's SQS event
source mapping, in process), ``servers`` (moto and the API on ports bound before anything
starts), ``docs`` (``/docs`` with Swagger UI's assets served locally).
"""
