"""Decoding videos with the ffmpeg binary that ``imageio-ffmpeg`` ships.

No system ffmpeg is needed. Audio is decoded to 16 kHz mono float32 in
[-1, 1]; frames to 456x256 RGB at 25 frames/s (paper §3), streamed in chunks
so a long video never sits whole in memory.

Resampling: audio with ffmpeg's ``aresample`` filter using the SoX resampler
(``resampler=soxr``, high quality), frames with ffmpeg's ``fps`` filter
(drop/duplicate to a constant 25 frames/s) and bicubic ``scale`` to exactly
456x256 (the challenge's 1280x720 clips have the same 16:9 shape).

``decode='release'`` decodes as the authors' release's ``util.py`` did
instead: audio as ``librosa.load(path, 16000)`` (16-bit PCM at the native
rate, as audioread's ffmpeg backend gave it, channels averaged, resampled
with ``kaiser_best``) and every native frame, scaled to 456x256 as
scikit-video's ``VideoCapture(path, (456, 256))`` asked ffmpeg to
(``-vf scale=456:256``, bicubic, ffmpeg's default).
"""

import collections
import os
import re
import struct
import subprocess

import numpy

from deep_impression.constants import (FPS, FRAME_CHUNK, FRAME_HEIGHT,
                                       FRAME_WIDTH, MIN_AUDIO_SECONDS,
                                       SAMPLE_RATE)
from deep_impression.errors import InputError, MediaError

#: How :func:`load_clip_audio` and ``predict_video`` decode: the package's
#: way (25 frames/s, soxr) or the release's (native frames, kaiser_best).
DECODINGS = ('package', 'release')


def ffmpeg_exe():
    """Path of the bundled ffmpeg binary."""
    import imageio_ffmpeg
    return imageio_ffmpeg.get_ffmpeg_exe()


MediaInfo = collections.namedtuple(
    'MediaInfo', ['duration', 'has_audio', 'has_video', 'width', 'height',
                  'fps'])


def _last_line(text):
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else 'ffmpeg failed'


def _check_file(path):
    path = os.fspath(path)
    if not os.path.exists(path):
        raise MediaError('{}: no such file'.format(path))
    if os.path.isdir(path):
        raise MediaError('{}: is a directory, not a media file'.format(path))
    if os.path.getsize(path) == 0:
        raise MediaError('{}: empty file'.format(path))
    return path


def probe(path):
    """What ffmpeg finds in ``path``.

    Returns:
        :class:`MediaInfo` (duration in seconds, or None if unknown).

    Raises:
        MediaError: missing file, or not a media file ffmpeg can read.
    """
    path = _check_file(path)
    proc = subprocess.run([ffmpeg_exe(), '-hide_banner', '-nostdin', '-i',
                           path], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    text = proc.stderr.decode('utf-8', 'replace')
    if 'Input #0' not in text:
        raise MediaError('{}: not a media file ffmpeg can read ({})'.format(
            path, _last_line(text)))
    duration = None
    m = re.search(r'Duration: (\d+):(\d+):(\d+(?:\.\d+)?)', text)
    if m:
        h, mnt, s = m.groups()
        duration = int(h) * 3600 + int(mnt) * 60 + float(s)
    width = height = fps = None
    video = re.search(r'Stream #\S+.*?: Video: (.*)', text)
    if video:
        size = re.search(r'(\d{2,5})x(\d{2,5})', video.group(1))
        if size:
            width, height = int(size.group(1)), int(size.group(2))
        rate = re.search(r'([\d.]+) fps', video.group(1))
        if rate:
            fps = float(rate.group(1))
    has_audio = re.search(r'Stream #\S+.*?: Audio:', text) is not None
    return MediaInfo(duration, has_audio, video is not None, width, height,
                     fps)


def _run_audio_decoder(path, args, dtype):
    """Samples ffmpeg writes to stdout for ``-i path args``; ``(n, ch)``."""
    info = probe(path)
    if not info.has_audio:
        raise MediaError('{}: no audio track'.format(path))
    proc = subprocess.run(
        [ffmpeg_exe(), '-hide_banner', '-nostdin', '-v', 'error', '-i',
         os.fspath(path), '-vn'] + args + ['pipe:1'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    audio = numpy.frombuffer(proc.stdout, dtype=dtype)
    if proc.returncode != 0 and audio.size == 0:
        raise MediaError('{}: cannot decode audio ({})'.format(
            path, _last_line(proc.stderr.decode('utf-8', 'replace'))))
    return audio


def _split_wav(data, path):
    """``(sample_rate, channels, pcm bytes)`` of a WAV ffmpeg wrote to a pipe
    (its data chunk size is unknown there, so the rest of the bytes)."""
    if data[:4] != b'RIFF' or data[8:12] != b'WAVE':
        raise MediaError('{}: cannot decode audio (no WAV from ffmpeg)'
                         .format(path))
    pos, fmt = 12, None
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos + 4:pos + 8], 'little')
        if data[pos:pos + 4] == b'fmt ':
            fmt = struct.unpack('<HI', data[pos + 10:pos + 16])
        elif data[pos:pos + 4] == b'data' and fmt is not None:
            return fmt[1], fmt[0], data[pos + 8:]
        pos += 8 + size + (size & 1)
    raise MediaError('{}: cannot decode audio (no samples)'.format(path))


def resample_kaiser_best(audio, orig_sr, target_sr=SAMPLE_RATE):
    """Resample as librosa did when the release was written.

    ``librosa.resample(res_type='kaiser_best')`` (resampy's band-limited
    sinc with a Kaiser window, 64 zero crossings), cut or zero-padded to
    ``ceil(len(audio) * target_sr / orig_sr)`` samples.

    Args:
        audio: 1-D float32 samples at ``orig_sr`` Hz.
        orig_sr, target_sr: rates in Hz.

    Returns:
        1-D float32 samples at ``target_sr`` Hz.
    """
    import librosa
    audio = numpy.ascontiguousarray(audio, dtype=numpy.float32)
    if orig_sr == target_sr:
        return audio
    return librosa.resample(audio, orig_sr=orig_sr, target_sr=target_sr,
                            res_type='kaiser_best').astype(numpy.float32)


def decode_audio_release(path, sample_rate=SAMPLE_RATE):
    """Decode audio as the release's ``librosa.load(path, 16000)``.

    audioread's ffmpeg backend gave librosa 16-bit PCM at the file's own
    rate and channel count; librosa scaled it by 1/32768, averaged the
    channels and resampled with ``kaiser_best``
    (:func:`resample_kaiser_best`).

    Returns:
        1-D float32 array of ``sample_rate`` Hz samples in [-1, 1].

    Raises:
        MediaError: missing or unreadable file, or no audio track.
    """
    wav = _run_audio_decoder(path, ['-f', 'wav', '-acodec', 'pcm_s16le'],
                             numpy.uint8)
    orig_sr, channels, data = _split_wav(wav.tobytes(), path)
    pcm = numpy.frombuffer(data[:len(data) // (2 * channels) * 2 * channels],
                           dtype='<i2').reshape(-1, channels)
    audio = (pcm.astype(numpy.float32) / 32768.0).mean(axis=1)
    return resample_kaiser_best(audio, orig_sr, sample_rate)


def decode_audio(path, sample_rate=SAMPLE_RATE):
    """Decode the audio track of ``path`` to mono float32 in [-1, 1].

    Args:
        path: any file ffmpeg reads (mp4, wav, ...).
        sample_rate: output rate in Hz (16000 as in the paper).

    Returns:
        1-D float32 array of samples.

    Raises:
        MediaError: missing or unreadable file, or no audio track.
    """
    audio = _run_audio_decoder(
        path, ['-ac', '1', '-af',
               'aresample={}:resampler=soxr'.format(sample_rate),
               '-f', 'f32le', '-acodec', 'pcm_f32le'], '<f4')
    return numpy.clip(audio.astype(numpy.float32), -1.0, 1.0)


def iter_frames(path, width=FRAME_WIDTH, height=FRAME_HEIGHT, fps=FPS,
                chunk=FRAME_CHUNK):
    """Stream the frames of ``path`` as RGB uint8 chunks.

    Args:
        path: any file ffmpeg reads.
        width, height: output size in pixels (456x256 as in the paper).
        fps: output frame rate (25 as in the paper); None keeps the source's.
        chunk: frames per yielded array.

    Yields:
        ``(k, height, width, 3)`` uint8 arrays, ``k <= chunk``.

    Raises:
        MediaError: missing or unreadable file, no video track, or no frame
            could be decoded.
    """
    info = probe(path)
    if not info.has_video:
        raise MediaError('{}: no video track'.format(path))
    filters = []
    if fps is not None:
        filters.append('fps={}'.format(fps))
    filters.append('scale={}:{}:flags=bicubic'.format(width, height))
    cmd = [ffmpeg_exe(), '-hide_banner', '-nostdin', '-v', 'error', '-i',
           os.fspath(path), '-an', '-vf', ','.join(filters),
           '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1']
    frame_bytes = width * height * 3
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, bufsize=frame_bytes)
    total = 0
    try:
        while True:
            data = _read_exactly(proc.stdout, frame_bytes * chunk)
            n = len(data) // frame_bytes
            if n:
                total += n
                yield numpy.frombuffer(data[:n * frame_bytes],
                                       dtype=numpy.uint8).reshape(
                                           n, height, width, 3)
            if len(data) < frame_bytes * chunk:
                break
        err = proc.stderr.read().decode('utf-8', 'replace')
        proc.wait()
        if total == 0:
            raise MediaError('{}: no decodable frame ({})'.format(
                path, _last_line(err) if err.strip() else 'empty video'))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def _read_exactly(stream, n):
    parts = []
    remaining = n
    while remaining > 0:
        part = stream.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b''.join(parts)


def read_frames(path, **kwargs):
    """All frames of ``path`` as one ``(T, H, W, 3)`` uint8 array."""
    return numpy.concatenate(list(iter_frames(path, **kwargs)), axis=0)


def check_decoding(decode):
    """``decode`` if it names one of :data:`DECODINGS`; InputError if not."""
    if decode not in DECODINGS:
        raise InputError('decode: must be one of {}, got {!r}'.format(
            ', '.join(DECODINGS), decode))
    return decode


def load_clip_audio(path, min_seconds=MIN_AUDIO_SECONDS, decode='package'):
    """16 kHz audio of a clip for prediction, refusing clips under 1 s.

    ``decode``: ``'package'`` (:func:`decode_audio`) or ``'release'``
    (:func:`decode_audio_release`).
    """
    decoder = {'package': decode_audio,
               'release': decode_audio_release}[check_decoding(decode)]
    audio = decoder(path)
    if audio.size < min_seconds * SAMPLE_RATE:
        raise MediaError('{}: only {:.2f} s of audio, need at least {:g} s'
                         .format(path, audio.size / SAMPLE_RATE, min_seconds))
    return audio


#: File name endings taken as media files when a folder is searched
#: (compared without regard to case).
MEDIA_EXTENSIONS = ('.mp4', '.m4v', '.mov', '.mkv', '.webm', '.avi', '.flv',
                    '.wmv', '.mpg', '.mpeg', '.ts', '.mts', '.m2ts', '.3gp',
                    '.ogv')


def is_media_name(name):
    """Whether a file name ends in one of :data:`MEDIA_EXTENSIONS` (and is
    not hidden, such as an unfinished download or an atomic write's
    temporary)."""
    name = os.path.basename(name)
    return (not name.startswith('.') and
            name.lower().endswith(MEDIA_EXTENSIONS))


def find_videos(paths):
    """Expand folders into the media files below them.

    Args:
        paths: files and folders. A folder is searched recursively for
            media files (:func:`is_media_name`), which are listed sorted;
            a file is kept as given, whatever its name.

    Returns:
        ``(videos, empty)``: the paths (normalised, each once, in argument
        order) and the folders in which no media file was found.
    """
    videos, empty, seen = [], [], set()
    for path in paths:
        path = os.path.normpath(os.fspath(path))
        if os.path.isdir(path):
            found = sorted(
                os.path.join(root, name)
                for root, dirs, files in os.walk(path)
                for name in files if is_media_name(name))
            if not found:
                empty.append(path)
        else:
            found = [path]
        for video in found:
            if video not in seen:
                seen.add(video)
                videos.append(video)
    return videos, empty
