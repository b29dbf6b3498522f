"""Decoding videos with the ffmpeg binary that ``imageio-ffmpeg`` ships.

No system ffmpeg is needed. Audio is decoded to 16 kHz mono float32 in
[-1, 1]; frames to 456x256 RGB at 25 frames/s (paper §3), streamed in chunks
so a long video never sits whole in memory.

Resampling: audio with ffmpeg's ``aresample`` filter using the SoX resampler
(``resampler=soxr``, high quality), frames with ffmpeg's ``fps`` filter
(drop/duplicate to a constant 25 frames/s) and bicubic ``scale`` to exactly
456x256 (the challenge's 1280x720 clips have the same 16:9 shape).
"""

import collections
import os
import re
import subprocess

import numpy

from deep_impression.constants import (FPS, FRAME_CHUNK, FRAME_HEIGHT,
                                       FRAME_WIDTH, MIN_AUDIO_SECONDS,
                                       SAMPLE_RATE)
from deep_impression.errors import MediaError


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
    info = probe(path)
    if not info.has_audio:
        raise MediaError('{}: no audio track'.format(path))
    proc = subprocess.run(
        [ffmpeg_exe(), '-hide_banner', '-nostdin', '-v', 'error', '-i',
         os.fspath(path), '-vn', '-ac', '1',
         '-af', 'aresample={}:resampler=soxr'.format(sample_rate),
         '-f', 'f32le', '-acodec', 'pcm_f32le', 'pipe:1'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    audio = numpy.frombuffer(proc.stdout, dtype='<f4').astype(numpy.float32)
    if proc.returncode != 0 and audio.size == 0:
        raise MediaError('{}: cannot decode audio ({})'.format(
            path, _last_line(proc.stderr.decode('utf-8', 'replace'))))
    return numpy.clip(audio, -1.0, 1.0)


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


def load_clip_audio(path, min_seconds=MIN_AUDIO_SECONDS):
    """16 kHz audio of a clip for prediction, refusing clips under 1 s."""
    audio = decode_audio(path)
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
