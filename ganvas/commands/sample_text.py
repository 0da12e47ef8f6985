"""`ganvas sample` for text models: texts printed, and written as .txt, .png (calligraphy) and .json files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def sample_text(W: Any, pub: Any, n: int, seed: int, codes: str | None, acrostic: str | None, keywords: str | None,
                first_line: str | None, temperature: float, constrained: bool, grid: Path | None,
                out_dir: Path | None, formats: tuple[str, ...] | None) -> None:
    """Write `n` texts of seeds seed … seed+n−1 (see `ganvas.writer.Writer.sample`), each published by `pub`
    (signed manifests; the memorization guard looks for lines copied from the training poems)."""
    words = tuple(w.strip() for w in (keywords or "").split(",") if w.strip())
    seeds = list(range(seed, seed + n))
    rows = W.seed_codes(seeds, codes)
    ids = W.sample_ids(n, seed, codes, acrostic, words, first_line, temperature, constrained)
    texts = W.domain.texts(ids)
    for s, row, text in zip(seeds, rows, texts, strict=True):
        label = ", ".join(f"{k}={v}" for k, v in row.items()) or "no codes"
        print(f"— seed {s} ({label})\n{text}\n")
    recipes = [{"seed": s, "codes": row, "temperature": temperature, "constrained": constrained,
                **({"acrostic": acrostic} if acrostic else {}), **({"keywords": list(words)} if words else {}),
                **({"first_line": first_line} if first_line else {})} for s, row in zip(seeds, rows, strict=True)]
    if out_dir is not None:
        from ganvas.publish.publisher import report

        results = []
        for i, (s, recipe, verdict) in enumerate(zip(seeds, recipes, pub.check(ids), strict=True)):
            record = pub.record(recipe)
            done = pub.judge(record, verdict)
            if not done.withheld:
                for fmt in formats or W.domain.default_formats:
                    data = W.domain.encode(ids[i:i + 1], fmt, text={"ganvas": json.dumps(recipe, ensure_ascii=False)})
                    done.paths += pub.write_file(Path(out_dir) / f"seed{s:04d}.{fmt}", data, record)
            results.append(done)
        print(report(results, out_dir))
    if grid is not None:
        pub.save_picture(grid, W.domain.preview(ids), {"grid": recipes}, ids)
        print(f"wrote {grid}")
