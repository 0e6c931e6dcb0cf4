"""`compare` / `run --scheduler`: plans × seeds on a real Dask cluster, same numbers as locally."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from pathlib import Path

import pytest

from trafficsim import parallel
from trafficsim.cli import main
from trafficsim.errors import UsageError

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes, one thread each: as `dask worker ADDRESS --nthreads 1` starts them."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as c:
        yield c


@pytest.mark.sumo
def test_compare_on_a_cluster_equals_the_local_run(cluster, small_corridor: Path,
                                                   tmp_path: Path, capsys) -> None:
    """Every number of metrics.json and runs.csv, bit for bit; the runs happened on the workers."""
    args = ["compare", str(small_corridor), "--seeds", "1,2", "--end", "07:08", "--quiet",
            "--json"]
    assert main([*args, "--workers", "2", "--out", str(tmp_path / "local")]) == 0
    assert main([*args, "--scheduler", cluster.scheduler_address,
                 "--out", str(tmp_path / "dask")]) == 0
    printed = json.loads(capsys.readouterr().out.split("\n}\n")[1] + "\n}")
    local = json.loads((tmp_path / "local/metrics.json").read_text())
    dask = json.loads((tmp_path / "dask/metrics.json").read_text())
    assert dask == local == printed
    assert local["plans"]["baseline"]["throughput_veh"]["mean"] > 0  # vehicles did drive
    assert ((tmp_path / "dask/runs.csv").read_text()
            == (tmp_path / "local/runs.csv").read_text())
    # the cases were run by the workers (their SUMO wrote the outputs into the shared folder)
    assert sorted(p.parent.name for p in (tmp_path / "dask/cases").glob("*/*/tripinfo.csv")) == [
        "seed_1", "seed_1", "seed_2", "seed_2"]


@pytest.mark.sumo
def test_run_on_a_cluster_without_out(cluster, small_corridor: Path, capsys) -> None:
    """`run` without --out: the cases live in a temporary folder, which local workers see."""
    assert main(["run", str(small_corridor), "--plan", "slow", "--seeds", "3", "--end", "07:05",
                 "--quiet", "--json", "--scheduler", cluster.scheduler_address]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert list(doc["plans"]) == ["slow"] and doc["seeds"] == [3]


def test_a_path_a_worker_cannot_see_is_named(cluster, tmp_path: Path) -> None:
    """A scenario file missing on the workers: a clear error naming the worker and the file."""
    gone = tmp_path / "elsewhere" / "routes.rou.xml"
    with distributed.Client(cluster.scheduler_address) as client, \
            pytest.raises(UsageError) as exc:
        parallel.check_workers_see(client, cluster.scheduler_address, tmp_path / "out", [gone])
    msg = str(exc.value)
    assert str(gone) in msg and "shared file system" in msg and "worker tcp://" in msg
    assert not list((tmp_path / "out").iterdir())  # the probe file is removed


def test_a_folder_of_the_same_name_elsewhere_is_not_the_shared_folder(tmp_path: Path) -> None:
    """What a worker on another machine sees: no probe file, or one with another token."""
    probe = tmp_path / ".trafficsim-probe"
    assert parallel.missing_paths(str(probe), "abc", [str(tmp_path)]) == [str(probe)]
    probe.write_text("other machine's token")
    assert parallel.missing_paths(str(probe), "abc", []) == [str(probe)]
    probe.write_text("abc")
    assert parallel.missing_paths(str(probe), "abc", [str(tmp_path / "x")]) == [
        str(tmp_path / "x")]


@pytest.mark.sumo  # (the command builds the network before it contacts the scheduler)
def test_no_scheduler_at_the_address_exits_2(small_corridor: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(parallel, "CONNECT_TIMEOUT_S", 1.0)
    code = main(["compare", str(small_corridor), "--seeds", "1", "--quiet",
                 "--scheduler", "tcp://127.0.0.1:9", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "--scheduler tcp://127.0.0.1:9: no Dask scheduler answered" in err
    assert "Traceback" not in err and not (tmp_path / "o/metrics.json").exists()


def test_a_scheduler_without_workers_is_an_error_not_a_hang(monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    monkeypatch.setattr(parallel, "WORKER_WAIT_S", 1.0)
    with distributed.LocalCluster(n_workers=0, dashboard_address=":0") as empty, \
            pytest.raises(UsageError, match="no worker joined the scheduler within 1 s"), \
            parallel.dask_executor(empty.scheduler_address, shared=tmp_path):
        pass


def _die() -> None:
    import os

    os._exit(1)  # as the kernel's OOM killer would end a worker


@pytest.mark.slow  # (the nanny restarts the dead worker before the cluster can close)
def test_a_worker_that_dies_is_a_clear_error(tmp_path: Path) -> None:
    import dask

    from trafficsim.errors import SumoError

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                     dashboard_address=":0") as c, \
            pytest.raises(SumoError, match="died"), \
            parallel.dask_executor(c.scheduler_address, shared=tmp_path) as ex:
        ex.submit(_die).result()


def _junk_server(stop: threading.Event) -> int:
    """A server that answers every connection with junk (seen: MemoryError from decoding it)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)

    def answer() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n" + b"\xff" * 64)
            conn.close()
        server.close()

    threading.Thread(target=answer, daemon=True).start()
    return int(server.getsockname()[1])


def _http_server(stop: threading.Event) -> int:
    """A plain web server (Dask's client waited on it for over 120 s)."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _QuietHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    threading.Thread(target=lambda: (stop.wait(), httpd.shutdown(), httpd.server_close()),
                     daemon=True).start()
    return int(httpd.server_address[1])


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.parametrize("serve", [_junk_server, _http_server])
def test_something_that_is_not_dask_at_the_address_is_a_clear_error_in_bounded_time(
        serve, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A server that is not Dask: an error naming --scheduler once the probe's time is up."""
    monkeypatch.setattr(parallel, "PROBE_TIMEOUT_S", 2.0)
    stop = threading.Event()
    port = serve(stop)
    t0 = time.monotonic()
    try:
        with (pytest.raises(UsageError) as err,
              parallel.dask_executor(f"tcp://127.0.0.1:{port}", shared=tmp_path)):
            pass
    finally:
        stop.set()
    assert time.monotonic() - t0 < 2.0 + 3.0  # (was > 120 s with a web server)
    msg = str(err.value)
    assert msg.startswith(f"--scheduler tcp://127.0.0.1:{port}: no Dask scheduler answered")
    assert f"something listens at 127.0.0.1:{port}, but not a Dask scheduler" in msg


def test_a_closed_port_is_a_clear_error_at_once(tmp_path: Path) -> None:
    """Nothing listens: refused at once (Dask's client retried for about 50 s)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # (bound, never listening, then closed: a port nobody serves)
    t0 = time.monotonic()
    with (pytest.raises(UsageError, match=f"--scheduler tcp://127.0.0.1:{port}: no Dask "
                                          "scheduler answered \\(Connection refused\\)"),
          parallel.dask_executor(f"tcp://127.0.0.1:{port}", shared=tmp_path)):
        pass
    assert time.monotonic() - t0 < 2.0


def test_the_probe_accepts_a_real_scheduler() -> None:
    with distributed.LocalCluster(n_workers=0, processes=False, protocol="tcp",
                                  dashboard_address=":0") as c:
        t0 = time.monotonic()
        parallel.probe_scheduler(c.scheduler_address)
        assert time.monotonic() - t0 < 2.0
        host_port = c.scheduler_address.removeprefix("tcp://")
        parallel.probe_scheduler(host_port)  # (no scheme: tcp, as Dask reads it)
