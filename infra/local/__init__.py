"""The embedded local stack behind ``python -m infra.local`` (``make run``).

Modules, imported by path: ``template`` (template.yaml as data, intrinsics resolved locally),
``resources`` (its queues, tables and bucket created on moto), ``function_process`` (each
function in a process of its own, with its template environment), ``poller`` (Lambda's SQS
event source mapping), ``scheduler`` (EventBridge Scheduler's firing), ``servers`` (moto and
the API on ports bound before anything starts), ``post_policy`` (S3's POST policy checked in
front of moto), ``state`` (moto's state kept across restarts), ``docs`` (``/docs`` with
Swagger UI's assets served locally).
"""
