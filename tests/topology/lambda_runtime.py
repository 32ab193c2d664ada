"""One Lambda function's execution environment: `python lambda_runtime.py` with the function's
environment, its package and layers on PYTHONPATH (as /var/task and /opt/python are on Lambda),
and `_HANDLER` naming the handler, as Lambda sets it. The init phase imports the handler's module; then each
invocation, one at a time as in one execution environment, arrives over the Lambda Invoke API
(`POST /2015-03-31/functions/function/invocations`, as the Lambda runtime interface emulator takes
it) and is answered as Lambda answers: the result, or 200 with `X-Amz-Function-Error: Unhandled`
and `{errorMessage, errorType, stackTrace}`.

Arguments: the file to write the port to once the handler is imported, the function's timeout in
seconds, the account id."""
from __future__ import annotations

import importlib
import json
import os
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Context:
    """Lambda's context object: what handlers and powertools read of it."""

    def __init__(self, request_id: str, timeout_s: float, account: str) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.invoked_function_arn = (f"arn:aws:lambda:{os.environ['AWS_REGION']}:{account}"
                                     f":function:{self.function_name}")
        self.aws_request_id = request_id
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main() -> None:
    ready_file, timeout_s, account = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    module_name, attribute = os.environ["_HANDLER"].rsplit(".", 1)
    handler = getattr(importlib.import_module(module_name), attribute)
    one_at_a_time = threading.Lock()

    class Invoke(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            event = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"null")
            request_id = str(uuid.uuid4())
            headers = {"X-Amz-Executed-Version": "$LATEST", "X-Amzn-RequestId": request_id}
            with one_at_a_time:
                try:
                    result: Any = handler(event, Context(request_id, timeout_s, account))
                except Exception as error:  # noqa: BLE001 - Lambda reports any error to the caller
                    traceback.print_exc()
                    headers["X-Amz-Function-Error"] = "Unhandled"
                    result = {"errorMessage": str(error), "errorType": type(error).__name__,
                              "stackTrace": traceback.format_tb(error.__traceback__)}
            body = json.dumps(result).encode()
            self.send_response(200)
            for name, value in {**headers, "Content-Type": "application/json",
                                "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Invoke)
    server.daemon_threads = True
    with open(ready_file + ".tmp", "w") as ready:
        ready.write(str(server.server_address[1]))
    os.replace(ready_file + ".tmp", ready_file)
    server.serve_forever(poll_interval=0.05)


if __name__ == "__main__":
    main()
