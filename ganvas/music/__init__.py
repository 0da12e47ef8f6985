"""Music helpers shared by the music domain, its datasets and its metrics.

- ``pianoroll``: notes on a time grid ↔ multi-track piano-rolls (pure numpy);
- ``midi``: MIDI files in and out (pretty_midi), quantised to the grid;
- ``audio``: WAV through FluidSynth and a General MIDI soundfont, or a small numpy synthesizer;
- ``picture``: a piano-roll picture, one colour per track.
"""
