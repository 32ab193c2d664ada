"""`optio`: the command-line client of Optio. It talks to a deployment over HTTP only (it never
imports the service's code), so it works the same against local mode and AWS."""
