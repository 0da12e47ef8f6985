"""Text as ganvas sees it: vocabularies and control codes, Chinese verse forms, Pingshui rhymes and tones,
and the constrained decoder. Like ``ganvas.music``, a leaf below the models and the loop (no torch models)."""
