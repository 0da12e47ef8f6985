"""`ganvas sample` for text models: texts printed, and written as .txt, .png (calligraphy) and .json files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ganvas.files import save_image, write_bytes


def sample_text(W: Any, n: int, seed: int, codes: str | None, acrostic: str | None, keywords: str | None,
                first_line: str | None, temperature: float, constrained: bool, grid: Path | None,
                out_dir: Path | None, formats: tuple[str, ...] | None) -> None:
    """Write `n` texts of seeds seed … seed+n−1 (see `ganvas.writer.Writer.sample`)."""
    words = tuple(w.strip() for w in (keywords or "").split(",") if w.strip())
    seeds = list(range(seed, seed + n))
    rows = W.seed_codes(seeds, codes)
    ids = W.sample_ids(n, seed, codes, acrostic, words, first_line, temperature, constrained)
    texts = W.domain.texts(ids)
    for s, row, text in zip(seeds, rows, texts, strict=True):
        label = ", ".join(f"{k}={v}" for k, v in row.items()) or "no codes"
        print(f"— seed {s} ({label})\n{text}\n")
    if out_dir is not None:
        written = 0
        for i, (s, row) in enumerate(zip(seeds, rows, strict=True)):
            record = {"seed": s, "codes": row, "temperature": temperature, "constrained": constrained,
                      **({"acrostic": acrostic} if acrostic else {}), **({"keywords": list(words)} if words else {}),
                      **({"first_line": first_line} if first_line else {}), "model": str(W.path)}
            for fmt in formats or W.domain.default_formats:
                data = W.domain.encode(ids[i:i + 1], fmt, text={"ganvas": json.dumps(record, ensure_ascii=False)})
                write_bytes(Path(out_dir) / f"seed{s:04d}.{fmt}", data)
                written += 1
        print(f"wrote {written} files to {out_dir}")
    if grid is not None:
        save_image(grid, W.domain.preview(ids))
        print(f"wrote {grid}")
