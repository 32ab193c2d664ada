"""Structured JSON logs (CloudWatch on AWS, the terminal locally), via powertools."""
from __future__ import annotations

from aws_lambda_powertools import Logger

from chalicelib.settings import settings

logger = Logger(service="optio", level=settings.log_level)
