"""What `sam build` produces, run as Lambda would run it: "what passes here works on AWS"."""
