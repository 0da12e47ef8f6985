"""WAV files from notes: FluidSynth with a General MIDI soundfont, or a small numpy synthesizer.

FluidSynth (Debian ``fluidsynth``) renders each track with its General MIDI instrument from the
soundfont (Debian ``fluid-soundfont-gm``, or ``$GANVAS_SOUNDFONT``). Without either, the built-in
synthesizer renders every note as a few decaying harmonics under an attack-decay-sustain-release
envelope (noise bursts for drums): plainer, but always available and dependency-free.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ganvas.errors import GanvasError
from ganvas.files import atomic_path
from ganvas.music.midi import TrackSpec, notes_to_midi, write_midi
from ganvas.music.pianoroll import Note

SAMPLE_RATE = 44100
SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2",
              "/usr/share/soundfonts/default.sf2")
INSTALL_HINT = "install the Debian packages fluidsynth and fluid-soundfont-gm for General MIDI instruments"


def find_soundfont() -> Path | None:
    """``$GANVAS_SOUNDFONT`` if set (it must exist), else the first General MIDI soundfont installed."""
    env = os.environ.get("GANVAS_SOUNDFONT")
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise GanvasError(f"GANVAS_SOUNDFONT={env} is not a file; point it at a .sf2 soundfont or unset it "
                              f"({INSTALL_HINT})")
        return path
    return next((Path(p) for p in SOUNDFONTS if Path(p).is_file()), None)


def fluidsynth_setup() -> tuple[str, Path] | str:
    """(fluidsynth binary, soundfont) when both exist, else why not (one line)."""
    binary = shutil.which("fluidsynth")
    soundfont = find_soundfont()
    if binary is None:
        return f"fluidsynth is not installed; WAV files use the built-in synthesizer ({INSTALL_HINT})"
    if soundfont is None:
        return f"no General MIDI soundfont found; WAV files use the built-in synthesizer ({INSTALL_HINT})"
    return binary, soundfont


def render_wav(tracks: list[list[Note]], specs: list[TrackSpec], tempo: float, path: Path, beat_steps: int = 4,
               engine: str = "auto", tmp_dir: Path | None = None) -> str:
    """Write the notes as a 16-bit WAV at 44.1 kHz; returns the engine used ("fluidsynth" or "builtin").

    `engine`: auto (FluidSynth when installed) | fluidsynth (an error if missing) | builtin.
    `tmp_dir`: where FluidSynth's scratch files go (default: the system's temporary folder).
    """
    setup = fluidsynth_setup() if engine != "builtin" else "builtin asked for"
    if isinstance(setup, str):
        if engine == "fluidsynth":
            raise GanvasError(setup.split(";")[0] + f"; {INSTALL_HINT}")
        write_wav(path, synthesize(tracks, specs, tempo, beat_steps))
        return "builtin"
    binary, soundfont = setup
    with tempfile.TemporaryDirectory(prefix="ganvas-wav-", dir=tmp_dir) as tmp:
        mid, wav = Path(tmp) / "in.mid", Path(tmp) / "out.wav"
        write_midi(notes_to_midi(tracks, specs, tempo, beat_steps), mid)
        cmd = [binary, "-ni", "-q", "-r", str(SAMPLE_RATE), "-g", "0.6", "-T", "wav", "-O", "s16",
               "-F", str(wav), str(soundfont), str(mid)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=600)
        if proc.returncode != 0 or not wav.is_file() or wav.stat().st_size <= 44:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise GanvasError(f"fluidsynth failed on {path.name}: {detail[-1] if detail else 'no output'} "
                              f"(soundfont {soundfont})")
        with atomic_path(path) as out:
            shutil.copyfile(wav, out)
    return "fluidsynth"


# --- the built-in synthesizer --------------------------------------------------------------------

# relative amplitudes of harmonics 1..6 per timbre; tracks cycle through them so voices stay apart
TIMBRES = ((1.0, 0.5, 0.3, 0.15, 0.1, 0.05),      # bright, reed-like
           (1.0, 0.3, 0.15, 0.05, 0.0, 0.0),      # flute-like
           (1.0, 0.6, 0.2, 0.25, 0.05, 0.08),     # organ-like
           (1.0, 0.7, 0.45, 0.3, 0.2, 0.1))       # string-like


def synthesize(tracks: Sequence[Sequence[Note]], specs: Sequence[TrackSpec], tempo: float, beat_steps: int = 4,
               sample_rate: int = SAMPLE_RATE, release_s: float = 0.08) -> np.ndarray:
    """Mono float samples in [-1, 1]: additive synthesis, one timbre per track, drums as noise bursts."""
    step_s = 60.0 / (tempo * beat_steps)
    end = max((n.end for notes in tracks for n in notes), default=0)
    out = np.zeros(int((end * step_s + release_s + 0.05) * sample_rate) + 1, dtype=np.float64)
    noise = np.random.default_rng(0).uniform(-1, 1, int(0.2 * sample_rate))   # fixed: same notes, same file
    for t, (notes, spec) in enumerate(zip(tracks, specs, strict=True)):
        harmonics = np.asarray(TIMBRES[t % len(TIMBRES)])
        for n in notes:
            i0 = int(round(n.start * step_s * sample_rate))
            amp = 0.25 * (n.velocity / 127.0)
            if spec.is_drum:
                length = min(len(noise), int(0.12 * sample_rate))
                env = np.exp(-np.arange(length) / (0.03 * sample_rate))
                sound = amp * noise[:length] * env
            else:
                held = max(1, int(round((n.end - n.start) * step_s * sample_rate)))
                length = held + int(release_s * sample_rate)
                time = np.arange(length) / sample_rate
                f0 = 440.0 * 2 ** ((n.pitch - 69) / 12)
                ks = np.arange(1, len(harmonics) + 1)
                keep = (ks * f0 < sample_rate / 2) & (harmonics > 0)          # no aliasing
                wave_ = (harmonics[keep, None] * np.sin(2 * np.pi * f0 * ks[keep, None] * time)).sum(0)
                wave_ /= harmonics[keep].sum()
                sound = amp * wave_ * adsr(held, length, sample_rate)
            stop = min(len(out), i0 + len(sound))
            out[i0:stop] += sound[: stop - i0]
    peak = np.abs(out).max(initial=0.0)
    return out / peak * 0.9 if peak > 0.9 else out


def adsr(held: int, length: int, sample_rate: int, attack_s: float = 0.01, decay_s: float = 0.08,
         sustain: float = 0.7) -> np.ndarray:
    """Envelope: rise in `attack_s`, fall to `sustain` in `decay_s`, hold, then fade over the rest."""
    env = np.full(length, sustain)
    a = min(length, max(1, int(attack_s * sample_rate)))
    env[:a] = np.linspace(0, 1, a, endpoint=False)
    d = min(length - a, max(1, int(decay_s * sample_rate)))
    env[a:a + d] = np.linspace(1, sustain, d, endpoint=False)
    if 0 < held < length:
        env[held:] = np.linspace(env[held - 1], 0, length - held)
    return env


def write_wav(path: Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """16-bit mono PCM, written atomically."""
    pcm = (np.clip(samples, -1, 1) * 32767).round().astype("<i2")
    with atomic_path(path) as tmp, wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Samples as floats in [-1, 1] (channels averaged) and the sample rate: for tests and reports."""
    with wave.open(str(path), "rb") as w:
        rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
        raw = w.readframes(w.getnframes())
    if width != 2:
        raise GanvasError(f"{path}: expected 16-bit PCM, got {8 * width}-bit")
    data = np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768
    return data.reshape(-1, channels).mean(1), rate


def compact_wav(tracks: list[list[Note]], specs: list[TrackSpec], tempo: float, beat_steps: int = 4,
                engine: str = "auto", tmp_dir: Path | None = None) -> tuple[bytes, str]:
    """The rendering as WAV bytes at 22.05 kHz mono, cut one second after the last note ends (a quarter
    of the size or less, for embedding in a page). `tmp_dir`: where scratch files go."""
    import io

    with tempfile.TemporaryDirectory(prefix="ganvas-wav-", dir=tmp_dir) as tmp:
        path = Path(tmp) / "x.wav"
        used = render_wav(tracks, specs, tempo, path, beat_steps, engine, tmp_dir)
        samples, rate = read_wav(path)
    end = max((n.end for notes in tracks for n in notes), default=0) * 60.0 / (tempo * beat_steps)
    samples = samples[: int((end + 1.0) * rate)]
    if rate % 2 == 0 and rate > 22050:                       # average pairs: a gentle low-pass, then halve
        samples = samples[: len(samples) // 2 * 2].reshape(-1, 2).mean(1)
        rate //= 2
    pcm = (np.clip(samples, -1, 1) * 32767).round().astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue(), used
