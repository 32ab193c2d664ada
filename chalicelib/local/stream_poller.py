"""Local stand-in for the DynamoDB Streams -> Lambda trigger.

Reads the real Streams API of a table (DynamoDB Local, or whatever OPTIO_DYNAMODB_ENDPOINT names)
and calls the same handler Lambda would, with the same event shape and the same partial-batch
semantics (ReportBatchItemFailures): ordered per shard, at least once, bounded retries.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.config import Config  # type: ignore[import-untyped, unused-ignore]
from botocore.exceptions import ClientError  # type: ignore[import-untyped, unused-ignore]

from chalicelib.local.dynamodb_local import DEFAULT_REGION, local_client

Handler = Callable[[dict[str, Any], Any], Any]
Record = dict[str, Any]

_LOCAL_ACCOUNT = "000000000000"
_MAX_BATCH_SIZE = 1000  # GetRecords' limit
_REDISCOVER_S = 2.0
_MAX_RETRIES = 3
_RETRY_BACKOFF_S = 0.1
_MAX_ERROR_BACKOFF_S = 2.0
# Our loop owns retries and backoff; botocore's own retries would only add hidden sleeps.
_CLIENT_CONFIG = Config(connect_timeout=2, read_timeout=10, retries={"total_max_attempts": 1})
# A fresh iterator is enough to carry on: expired (15 min without a read) or unknown after a restart.
_RENEW_ITERATOR_CODES = frozenset({"ExpiredIteratorException", "ValidationException"})


@dataclass
class LocalLambdaContext:
    """The parts of Lambda's context object that handlers (and powertools) read."""

    function_name: str
    region: str = DEFAULT_REGION
    timeout_s: float = 60.0
    memory_limit_in_mb: int = 1024
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _deadline: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{_LOCAL_ACCOUNT}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/{self.function_version}/{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class _Shard:
    shard_id: str
    parent_id: str | None
    # Where reading begins while nothing has been read from the shard yet.
    start: str
    iterator: str | None = None
    # Last record *read*: records awaiting redelivery are held in `pending`, not re-read.
    last_sequence: str | None = None
    pending: list[Record] = field(default_factory=list)
    retries: int = 0
    retry_at: float = 0.0
    closed: bool = False


class _ShardGoneError(Exception):
    pass


class StreamPoller:
    """Polls every shard of a table's stream and hands batches to `handler(event, context)`.

    Shards open when the poller starts are read from LATEST (older changes are the resync's job);
    shards that appear later are read from TRIM_HORIZON, a child only after its parent is drained.
    """

    def __init__(
        self,
        endpoint: str,
        table_name: str,
        handler: Handler,
        region: str = DEFAULT_REGION,
        batch_size: int = 100,
        idle_wait_s: float = 0.1,
        logger: logging.Logger | None = None,
        *,
        function_name: str | None = None,
    ) -> None:
        if not 1 <= batch_size <= _MAX_BATCH_SIZE:
            raise ValueError(f"batch_size must be between 1 and {_MAX_BATCH_SIZE}")
        self.table_name = table_name
        self.region = region
        self.batch_size = batch_size
        self.idle_wait_s = idle_wait_s
        self.function_name = function_name or f"{table_name}-stream-handler"
        self._handler = handler
        self._logger = logger or logging.getLogger(__name__)
        self._dynamodb = local_client("dynamodb", endpoint, region, _CLIENT_CONFIG)
        self._streams = local_client("dynamodbstreams", endpoint, region, _CLIENT_CONFIG)
        self.stream_arn = self._latest_stream_arn()
        self._shards: dict[str, _Shard] = {}
        self._finished: set[str] = set()
        self._started_reading = False
        self._next_discovery = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        # Set by wake() (and stop): the next poll starts now instead of after idle_wait_s.
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Pins LATEST on the current shards before returning, then polls on a daemon thread."""
        if self._thread is not None:
            raise RuntimeError("stream poller already started")
        with self._lock:
            self._discover()
            self._log(logging.INFO, "stream poller started", shards=sorted(self._shards))
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"stream-poller-{self.table_name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        self._wake.set()
        thread.join()
        self._log(logging.INFO, "stream poller stopped")

    def wake(self) -> None:
        """A write to the table may have happened: poll now rather than at the next idle poll.
        Lambda's trigger delivers within milliseconds; a fixed sleep would add up to idle_wait_s
        to every hop of a task through the stream."""
        self._wake.set()

    def poll_once(self) -> int:
        """One pass over the shards; returns how many records were handed to the handler."""
        with self._lock:
            if time.monotonic() >= self._next_discovery:
                self._discover()
            delivered = 0
            for shard in list(self._shards.values()):
                if shard.parent_id in self._shards:
                    continue  # a child's records come after all of its parent's
                delivered += self._poll_shard(shard)
            return delivered

    def _run(self) -> None:
        backoff = 0.0
        while not self._stop.is_set():
            # Cleared before the poll: a wake during it means a record it may have missed.
            self._wake.clear()
            try:
                delivered = self.poll_once()
            except Exception as error:  # noqa: BLE001 - the poller outlives server restarts and hiccups
                backoff = min(max(backoff * 2, self.idle_wait_s), _MAX_ERROR_BACKOFF_S)
                self._log(logging.WARNING, "stream poll failed", error=repr(error), backoff_s=backoff)
                self._stop.wait(backoff)
                continue
            backoff = 0.0
            if delivered == 0:
                # Writes this process makes wake it (LocalStack); others', the idle poll finds.
                self._wake.wait(self.idle_wait_s)

    # -- shards ---------------------------------------------------------------------------------

    def _latest_stream_arn(self) -> str:
        table = self._dynamodb.describe_table(TableName=self.table_name)["Table"]
        arn: str | None = table.get("LatestStreamArn")
        if arn is None:
            raise ValueError(f"table {self.table_name} has no stream; enable StreamSpecification")
        return arn

    def _discover(self) -> None:
        arn = self._latest_stream_arn()
        if arn != self.stream_arn:
            # The table was recreated: the old stream's positions mean nothing in the new one.
            self._log(
                logging.WARNING, "table stream replaced", old_stream_arn=self.stream_arn, new_stream_arn=arn
            )
            self.stream_arn = arn
            self._shards.clear()
            self._finished.clear()
        for description in self._describe_shards():
            if description["ShardId"] not in self._shards and description["ShardId"] not in self._finished:
                self._adopt(description)
        self._started_reading = True
        self._next_discovery = time.monotonic() + _REDISCOVER_S

    def _describe_shards(self) -> list[dict[str, Any]]:
        shards: list[dict[str, Any]] = []
        page: dict[str, Any] = {"StreamArn": self.stream_arn}
        while True:
            description = self._streams.describe_stream(**page)["StreamDescription"]
            shards.extend(description.get("Shards", []))
            last = description.get("LastEvaluatedShardId")
            if not last:
                return shards
            page["ExclusiveStartShardId"] = last

    def _adopt(self, description: dict[str, Any]) -> None:
        shard_id = description["ShardId"]
        closed = "EndingSequenceNumber" in description.get("SequenceNumberRange", {})
        if self._started_reading:
            shard = _Shard(shard_id, description.get("ParentShardId"), start="TRIM_HORIZON")
        elif closed:
            self._finished.add(shard_id)  # closed before we started: all of it predates us
            return
        else:
            shard = _Shard(shard_id, description.get("ParentShardId"), start="LATEST")
            # LATEST is fixed when the iterator is made, so make it now, not at the first read.
            try:
                shard.iterator = self._fresh_iterator(shard)
            except _ShardGoneError:
                return
        self._shards[shard_id] = shard
        self._log(
            logging.INFO, "stream shard adopted", shard_id=shard_id, start=shard.start, parent=shard.parent_id
        )

    def _finish(self, shard: _Shard) -> None:
        self._shards.pop(shard.shard_id, None)
        self._finished.add(shard.shard_id)
        self._log(
            logging.INFO, "stream shard finished", shard_id=shard.shard_id, last_sequence=shard.last_sequence
        )

    def _fresh_iterator(self, shard: _Shard) -> str:
        request: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": shard.shard_id}
        if shard.last_sequence is not None:
            request.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=shard.last_sequence)
        else:
            request["ShardIteratorType"] = shard.start
        try:
            iterator: str = self._streams.get_shard_iterator(**request)["ShardIterator"]
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code == "ResourceNotFoundException":
                raise _ShardGoneError from error
            if code != "TrimmedDataAccessException":
                raise
            # Our position aged out of the 24 h retention: the oldest record left is the closest.
            self._log(logging.WARNING, "stream position trimmed", shard_id=shard.shard_id)
            request = {
                "StreamArn": self.stream_arn,
                "ShardId": shard.shard_id,
                "ShardIteratorType": "TRIM_HORIZON",
            }
            iterator = self._streams.get_shard_iterator(**request)["ShardIterator"]
        return iterator

    def _poll_shard(self, shard: _Shard) -> int:
        if shard.pending:
            return self._deliver(shard, shard.pending) if time.monotonic() >= shard.retry_at else 0
        if shard.closed:
            self._finish(shard)
            return 0
        try:
            records = self._read(shard)
        except _ShardGoneError:
            self._finish(shard)
            self._next_discovery = 0.0
            return 0
        return self._deliver(shard, records) if records else 0

    def _read(self, shard: _Shard) -> list[Record]:
        if shard.iterator is None:
            shard.iterator = self._fresh_iterator(shard)
        try:
            response = self._streams.get_records(ShardIterator=shard.iterator, Limit=self.batch_size)
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code == "ResourceNotFoundException":
                raise _ShardGoneError from error
            if code == "TrimmedDataAccessException" and shard.last_sequence is None:
                # DynamoDB Local answers this for a LATEST iterator pinned on an empty shard once
                # the server's shared sequence counter has moved on. Nothing was delivered from
                # this shard yet, so reading it from the start loses nothing (at least once).
                self._log(logging.WARNING, "stream iterator trimmed; reading from the start",
                          shard_id=shard.shard_id)
                shard.start = "TRIM_HORIZON"
                shard.iterator = None
                return []
            if code not in _RENEW_ITERATOR_CODES:
                raise
            self._log(logging.INFO, "stream iterator renewed", shard_id=shard.shard_id, code=code)
            shard.iterator = None
            return []
        shard.iterator = response.get("NextShardIterator")
        shard.closed = shard.iterator is None
        records = [self._lambda_record(record) for record in response.get("Records", [])]
        if records:
            shard.last_sequence = records[-1]["dynamodb"]["SequenceNumber"]
        return records

    def _lambda_record(self, record: Record) -> Record:
        dynamodb = dict(record["dynamodb"])
        created = dynamodb.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            # boto3 parses the wire's epoch seconds; Lambda passes them through as a number.
            dynamodb["ApproximateCreationDateTime"] = created.timestamp()
        # awsRegion: DynamoDB Local says "ddblocal"; Lambda reports the table's region.
        return {**record, "awsRegion": self.region, "dynamodb": dynamodb, "eventSourceARN": self.stream_arn}

    # -- delivery -------------------------------------------------------------------------------

    def _deliver(self, shard: _Shard, batch: list[Record]) -> int:
        failed_at = self._invoke(shard, batch)
        if failed_at is None:
            shard.pending, shard.retries = [], 0
            return len(batch)
        remaining = batch[failed_at:]
        sequence_numbers = [record["dynamodb"]["SequenceNumber"] for record in remaining]
        if shard.retries >= _MAX_RETRIES:
            self._log(
                logging.ERROR,
                "stream records dropped after retries",
                shard_id=shard.shard_id,
                sequence_numbers=sequence_numbers,
                retries=shard.retries,
            )
            shard.pending, shard.retries = [], 0
            return len(batch)
        shard.retries += 1
        shard.pending = remaining
        shard.retry_at = time.monotonic() + _RETRY_BACKOFF_S * 2 ** (shard.retries - 1)
        self._log(
            logging.WARNING,
            "stream records will be retried",
            shard_id=shard.shard_id,
            sequence_numbers=sequence_numbers,
            retry=shard.retries,
        )
        return len(batch)

    def _invoke(self, shard: _Shard, batch: list[Record]) -> int | None:
        """Calls the handler; returns the index of the first record to redeliver, None if all succeeded."""
        context = LocalLambdaContext(function_name=self.function_name, region=self.region)
        try:
            # A copy per call, as each Lambda invocation deserializes its own event.
            result = self._handler({"Records": copy.deepcopy(batch)}, context)
        except Exception as error:  # noqa: BLE001 - a raising handler fails the whole batch, as on Lambda
            self._log(
                logging.ERROR,
                "stream handler raised",
                shard_id=shard.shard_id,
                error=repr(error),
                request_id=context.aws_request_id,
                exc_info=True,
            )
            return 0
        return _first_failure(batch, result)

    def _log(self, level: int, message: str, *, exc_info: bool = False, **fields: Any) -> None:
        extra = {"table": self.table_name, "stream_arn": self.stream_arn, **fields}
        self._logger.log(level, message, extra=extra, exc_info=exc_info)


def _first_failure(batch: list[Record], result: Any) -> int | None:
    """Index of the earliest record named in `batchItemFailures`, as Lambda checkpoints there.

    An identifier that matches no record fails the whole batch, as it does on Lambda.
    """
    failures = result.get("batchItemFailures") if isinstance(result, dict) else None
    if not failures:
        return None
    positions = {record["dynamodb"]["SequenceNumber"]: index for index, record in enumerate(batch)}
    indexes: list[int] = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if identifier not in positions:
            return 0
        indexes.append(positions[identifier])
    return min(indexes)
