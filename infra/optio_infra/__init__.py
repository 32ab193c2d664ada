"""Optio's infrastructure as code: one CDK stack per Chalice stage (dev, prod)."""
