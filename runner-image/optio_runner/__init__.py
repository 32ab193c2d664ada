"""The Optio runner: runs one attempt of one task and reports it to the API over HTTP.

Standard library only, and no import of `chalicelib`, so the pod image stays small and the runner
can only change task state through the authenticated events endpoint.
"""
