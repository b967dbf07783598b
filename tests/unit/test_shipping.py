"""Worker -> master record shipping, in process: what the master's receiver writes and when it stops."""

from __future__ import annotations

import csv
from pathlib import Path

import msgpack

from bench.collect import CsvRecordWriter, RequestCollector, RequestRecord
from bench.collect.record import COLUMNS
from bench.collect.shipping import LostWorker, RecordReceiver, RecordShipper, WorkerRoster
from bench.collect.writer import RecordBatch


def _record(ts: float, status: str = "ok") -> RequestRecord:
    return RequestRecord(ts, ts, "w", "U", "invoke", "ep", "ep", None, None, None, 1, None, status,
                         None if status == "ok" else "ModelError", None if status == "ok" else "request",
                         200, 5.0)  # fmt: skip


def test_batches_reach_the_master_file_in_order_and_late_ones_are_counted_not_written(tmp_path: Path) -> None:
    sent: list[dict[str, object]] = []
    worker = RequestCollector(RecordBatch(), worker="w1", clock=lambda: 0.0)
    shipper = RecordShipper(worker, lambda _, data: sent.append(msgpack.unpackb(msgpack.packb(data))))
    master = RequestCollector(CsvRecordWriter(tmp_path / "requests.csv"), worker="master", clock=lambda: 0.0)
    receiver = RecordReceiver()
    receiver.begin(master)
    for i in range(5):
        worker.writer.write(_record(1000.0 + i))
    shipper.ship(final=False)
    worker.writer.write(_record(1010.0, status="error"))
    worker.on_request("invoke", "ep", 5.0, 0, exception=ValueError("boom"), context={}, start_time=1011.0)
    shipper.stop(extra={"health": {"valid": True}})
    for message in sent:
        receiver.receive("w1", message)
    assert receiver.finals == {"w1"}
    assert receiver.received == {"w1": 7}
    assert receiver.health == {"w1": {"valid": True}}
    assert ("ValueError", "request") in master.error_samples
    receiver.end()
    master.close()
    receiver.receive("w1", {"rows": [_record(1020.0).to_row()], "final": True})  # after the files closed
    assert receiver.late == 1
    with (tmp_path / "requests.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == list(COLUMNS)
    assert [float(r[0]) for r in rows[1:]] == [1000.0, 1001.0, 1002.0, 1003.0, 1004.0, 1010.0, 1011.0]


def test_the_roster_names_lost_workers_and_takes_back_those_that_return() -> None:
    receiver = RecordReceiver()
    receiver.begin(RequestCollector(RecordBatch(), clock=lambda: 0.0))
    receiver.last_seen["w1"] = 99.5
    receiver.received["w1"] = 42
    roster = WorkerRoster(receiver)
    assert roster.update({"w1": False, "w2": False}, now=100.0) == ([], [])
    lost, back = roster.update({"w1": True, "w2": False}, now=103.0)
    assert lost == [LostWorker("w1", 103.0, 99.5, 42)]
    assert back == []
    assert roster.update({"w1": True, "w2": False}, now=104.0) == ([], [])  # named once
    assert roster.expected({"w1": True, "w2": False}) == ["w2"]  # no wait for its last batch
    assert roster.update({"w1": False, "w2": False}, now=106.0) == ([], ["w1"])  # heartbeats again
    assert roster.lost == {}
    assert roster.expected({"w1": False, "w2": False}) == ["w1", "w2"]
    roster.update({"w2": True}, now=107.0)
    assert roster.update({}, now=170.0) == ([], [])  # Locust forgot w2 after a minute: it stays lost
    assert list(roster.lost) == ["w2"]
