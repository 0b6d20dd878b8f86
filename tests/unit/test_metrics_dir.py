"""The metrics folder of `gophermart web`: emptied of old counts, and of nothing else."""

import os

from gophermart.runtime.web_server import prepare_metrics_dir


def test_a_shared_folder_loses_only_the_metrics_files(tmp_path, monkeypatch):
    shared = tmp_path / "shared"  # PROMETHEUS_MULTIPROC_DIR=/tmp, say
    (shared / "someone-elses").mkdir(parents=True)
    (shared / "someone-elses" / "data.db").write_text("kept")
    (shared / "notes.txt").write_text("kept")
    (shared / "app.db").write_text("kept")
    for old in ("counter_4242.db", "histogram_4242.db", "gauge_livesum_4242.db"):
        (shared / old).write_bytes(b"\0" * 8)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(shared))
    prepare_metrics_dir(str(tmp_path / "instance"))
    assert sorted(p.name for p in shared.iterdir()) == ["app.db", "notes.txt", "someone-elses"]
    assert (shared / "someone-elses" / "data.db").read_text() == "kept"


def test_without_a_folder_named_one_is_made_in_the_instance_folder(tmp_path, monkeypatch):
    # Set, then removed: monkeypatch then undoes what prepare_metrics_dir sets (delenv of a
    # variable that is not there records nothing, and the folder would leak into later tests).
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    prepare_metrics_dir(str(tmp_path / "instance"))
    made = tmp_path / "instance" / "prometheus"
    assert made.is_dir()
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(made)
