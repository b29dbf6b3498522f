"""Decoding videos with the ffmpeg binary that ``imageio-ffmpeg`` ships.

No system ffmpeg is needed. Audio is decoded to 16 kHz mono float32 in
[-1, 1]; frames to 456x256 RGB at 25 frames/s (paper §3), streamed in chunks
so a long video never sits whole in memory.

Mono is the mean of the file's channels, as the release's
``librosa.load`` made it (ffmpeg's own ``-ac 1`` weighs each channel of a
stereo file by 1/sqrt(2), which made its audio 1.41 times louder).

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

Nothing waits for ever: ffmpeg's error output is always read to its end
(a full pipe would block it, and us with it), and every wait on ffmpeg is
bounded (:data:`TIMEOUT`, :data:`STALL_TIMEOUT`).

Damaged files: a track that decodes to far less than the container's
duration, or decoder errors, give one warning line naming the file
(:func:`check_decoded`); with ``strict=True`` they are a
:class:`~deep_impression.errors.MediaError` instead. ``predict`` and
``preprocess`` share this policy (their ``--strict`` flag).
"""

import collections
import math
import os
import re
import select
import struct
import subprocess
import sys
import threading

import numpy

from deep_impression.constants import (FPS, FRAME_CHUNK, FRAME_HEIGHT,
                                       FRAME_WIDTH, MIN_AUDIO_SECONDS,
                                       SAMPLE_RATE)
from deep_impression import fileio
from deep_impression.errors import InputError, MediaError

#: How :func:`load_clip_audio` and ``predict_video`` decode: the package's
#: way (25 frames/s, soxr) or the release's (native frames, kaiser_best).
DECODINGS = ('package', 'release')

#: Seconds an ffmpeg run that does not stream may take, plus
#: :data:`TIMEOUT_PER_SECOND` per second of media (a clean 300-s clip
#: decodes in about 11 s on a busy 2-core machine).
TIMEOUT = 120
TIMEOUT_PER_SECOND = 2.0
#: Seconds a streaming ffmpeg may go without sending a byte.
STALL_TIMEOUT = 300
#: A track decoding to less than the container's duration times 0.98 less
#: this many seconds counts as truncated (the video and audio tracks of a
#: good file can end a few frames apart).
TRUNCATION_TOLERANCE = 0.25
#: Frames whose aspect ratio differs from the output's by more than this
#: factor are reported when stretched.
ASPECT_TOLERANCE = 1.1
#: How frames are brought to the output size: ``stretch`` (the release's
#: plain resize), ``pad`` (fit inside, black bars) or ``crop`` (fill, cut
#: the overflow at the centre).
FITS = ('stretch', 'pad', 'crop')


def ffmpeg_exe():
    """Path of the bundled ffmpeg binary."""
    import imageio_ffmpeg
    return imageio_ffmpeg.get_ffmpeg_exe()


MediaInfo = collections.namedtuple(
    'MediaInfo', ['duration', 'has_audio', 'has_video', 'width', 'height',
                  'fps'])

_warned = set()


def print_warning(message):
    """The default ``warn``: one line on standard error, once per message
    in a process (a file read twice is reported once)."""
    if message in _warned:
        return
    _warned.add(message)
    print('deep-impression: warning: {}'.format(message), file=sys.stderr)


def _last_line(text):
    lines = _error_lines(text)
    return lines[-1] if lines else 'ffmpeg failed'


def _check_file(path):
    path = os.fspath(path)
    if not os.path.exists(path):
        raise MediaError('{}: no such file'.format(path))
    if os.path.isdir(path):
        raise MediaError('{}: is a directory, not a media file'.format(path))
    # A FIFO would block ffmpeg and /dev/zero never ends: name what it is.
    reason = fileio.not_regular(path)
    if reason:
        raise MediaError('{}: {}'.format(path, reason))
    if os.path.getsize(path) == 0:
        raise MediaError('{}: empty file'.format(path))
    return path


def ffmpeg_path(path):
    """The argument that makes ffmpeg open the file named ``path``.

    ffmpeg reads a name such as ``concat:a.mp4|b.mp4``, ``subfile,,...:a.mp4``
    or ``pipe:0`` as a protocol, not as a file: a video named so would be
    decoded from another file, or from standard input. ``file:`` and the
    absolute path name only the file itself. Every path the package hands
    to ffmpeg goes through here.
    """
    return 'file:' + os.path.abspath(os.fspath(path))


def _timeout(duration):
    return TIMEOUT + TIMEOUT_PER_SECOND * (duration or 0)


def run_ffmpeg(args, path, timeout=TIMEOUT):
    """Run ffmpeg with ``args`` to its end, both outputs read as it goes.

    Returns:
        ``(stdout bytes, stderr text, return code)``.

    Raises:
        MediaError: ffmpeg ran longer than ``timeout`` seconds (it is
            killed); the message names ``path``.
    """
    proc = subprocess.Popen([ffmpeg_exe(), '-hide_banner', '-nostdin'] +
                            list(args), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise MediaError('{}: ffmpeg did not finish within {:.0f} s'.format(
            path, timeout)) from None
    return out, err.decode('utf-8', 'replace'), proc.returncode


#: Probes kept by :func:`probe`, newest last: ``{key: MediaInfo}``.
_PROBES = collections.OrderedDict()
_PROBES_LOCK = threading.Lock()
PROBES_KEPT = 64


def probe(path):
    """What ffmpeg finds in ``path``.

    A file is probed once while it stays the same (path, device, inode,
    size and modification time): predicting a clip asks for its size,
    duration and streams from the frames' decoder, the audio's and the
    frame count, and each would otherwise start ffmpeg. The last
    :data:`PROBES_KEPT` files are remembered; errors are not.

    Returns:
        :class:`MediaInfo` (duration in seconds, or None if unknown; width
        and height as decoded, i.e. after the rotation a phone records).

    Raises:
        MediaError: missing file, or not a media file ffmpeg can read.
    """
    path = _check_file(path)
    key = fileio.file_key(path)
    with _PROBES_LOCK:
        if key in _PROBES:
            _PROBES.move_to_end(key)
            return _PROBES[key]
    info = _probe(path)
    with _PROBES_LOCK:
        _PROBES[key] = info
        while len(_PROBES) > PROBES_KEPT:
            _PROBES.popitem(last=False)
    return info


def _probe(path):
    _, text, _ = run_ffmpeg(['-i', ffmpeg_path(path)], path)
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
        rotation = re.search(r'rotation of (-?[\d.]+) degrees', text)
        if (rotation and width and
                round(abs(float(rotation.group(1)))) % 180 == 90):
            width, height = height, width
    has_audio = re.search(r'Stream #\S+.*?: Audio:', text) is not None
    return MediaInfo(duration, has_audio, video is not None, width, height,
                     fps)


def _error_lines(text):
    return [line.strip() for line in text.splitlines() if line.strip()]


def check_decoded(path, what, seconds, duration, errors=(), strict=False,
                  warn=None):
    """The one policy for damaged files: warn, or raise when ``strict``.

    Args:
        path: the file, named in the message.
        what: ``'audio'`` or ``'video'``.
        seconds: how much of the track decoded (seconds).
        duration: the container's duration (seconds; None if unknown).
        errors: ffmpeg's error lines while decoding the track.
        strict: raise instead of warning.
        warn: callable given the message (default :func:`print_warning`).

    Raises:
        MediaError: ``strict`` and the track is short or had errors.
    """
    problems = []
    if duration is not None and \
            seconds < duration * 0.98 - TRUNCATION_TOLERANCE:
        problems.append('the {} decodes to {:.2f} s of the {:.2f} s the '
                        'container declares'.format(what, seconds, duration))
    errors = list(errors)
    if errors:
        problems.append('{} decoder error line{} in the {} (first: {})'.format(
            len(errors), '' if len(errors) == 1 else 's', what, errors[0]))
    if not problems:
        return
    message = '{}: damaged or truncated file ({})'.format(
        path, '; '.join(problems))
    if strict:
        raise MediaError(message)
    (warn or print_warning)(message)


def _decode_channels(path, args, strict, warn):
    """The audio track as ``(sample rate, (n, channels) samples)``: ffmpeg
    writes a WAV (``args`` choose its sample format and rate) at the file's
    own channel count; a short or damaged track is handled by
    :func:`check_decoded`."""
    info = probe(path)
    if not info.has_audio:
        raise MediaError('{}: no audio track'.format(path))
    out, err, code = run_ffmpeg(
        ['-v', 'error', '-i', ffmpeg_path(path), '-vn'] + list(args) +
        ['-f', 'wav', 'pipe:1'], path, timeout=_timeout(info.duration))
    if code != 0 and len(out) <= 44:
        raise MediaError('{}: cannot decode audio ({})'.format(
            path, _last_line(err)))
    rate, channels, bits, data = _split_wav(out, path)
    dtype = {16: '<i2', 32: '<f4'}[bits]
    width = channels * bits // 8
    samples = numpy.frombuffer(data[:len(data) // width * width],
                               dtype=dtype).reshape(-1, channels)
    if len(samples):
        check_decoded(path, 'audio', len(samples) / rate, info.duration,
                      _error_lines(err), strict, warn)
    return rate, samples


def decode_audio(path, sample_rate=SAMPLE_RATE, strict=False, warn=None):
    """Decode the audio track of ``path`` to mono float32 in [-1, 1].

    Resampled by ffmpeg's SoX resampler; mono is the mean of the channels.

    Args:
        path: any file ffmpeg reads (mp4, wav, ...).
        sample_rate: output rate in Hz (16000 as in the paper).
        strict, warn: see :func:`check_decoded` (a short or damaged track).

    Returns:
        1-D float32 array of samples.

    Raises:
        MediaError: missing or unreadable file, or no audio track.
    """
    _, samples = _decode_channels(
        path, ['-af', 'aresample={}:resampler=soxr'.format(sample_rate),
               '-acodec', 'pcm_f32le'], strict, warn)
    audio = samples.mean(axis=1, dtype=numpy.float64).astype(numpy.float32)
    return numpy.clip(audio, -1.0, 1.0)


def decode_audio_release(path, sample_rate=SAMPLE_RATE, strict=False,
                         warn=None):
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
    rate, pcm = _decode_channels(path, ['-acodec', 'pcm_s16le'], strict, warn)
    audio = (pcm.astype(numpy.float32) / 32768.0).mean(axis=1)
    return resample_kaiser_best(audio, rate, sample_rate)


def _split_wav(data, path):
    """``(sample rate, channels, bits per sample, sample bytes)`` of a WAV
    ffmpeg wrote to a pipe (its data chunk size is unknown there, so the
    rest of the bytes)."""
    if data[:4] != b'RIFF' or data[8:12] != b'WAVE':
        raise MediaError('{}: cannot decode audio (no WAV from ffmpeg)'
                         .format(path))
    pos, fmt = 12, None
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos + 4:pos + 8], 'little')
        if data[pos:pos + 4] == b'fmt ':
            fmt = struct.unpack('<HIxxxxxxH', data[pos + 10:pos + 24])
        elif data[pos:pos + 4] == b'data' and fmt is not None:
            return fmt[1], fmt[0], fmt[2], data[pos + 8:]
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


def fit_filters(fit, width, height):
    """ffmpeg filters bringing frames of any shape to ``width`` x ``height``
    (see :data:`FITS`)."""
    if fit == 'stretch':
        return ['scale={}:{}:flags=bicubic'.format(width, height)]
    if fit == 'pad':
        return ['scale={}:{}:flags=bicubic:force_original_aspect_ratio='
                'decrease'.format(width, height),
                'pad={}:{}:(ow-iw)/2:(oh-ih)/2'.format(width, height)]
    if fit == 'crop':
        return ['scale={}:{}:flags=bicubic:force_original_aspect_ratio='
                'increase'.format(width, height),
                'crop={}:{}'.format(width, height)]
    raise MediaError('fit: expected one of {}, got {!r}'.format(
        ', '.join(FITS), fit))


def _check_aspect(path, info, width, height, fit, warn):
    if fit != 'stretch' or not info.width or not info.height:
        return
    ratio = (info.width / info.height) / (width / height)
    if max(ratio, 1 / ratio) > ASPECT_TOLERANCE:
        (warn or print_warning)(
            '{}: {}x{} frames are stretched to {}x{} as the release did '
            '(--fit pad or --fit crop keeps faces undistorted)'.format(
                path, info.width, info.height, width, height))


class Drain(threading.Thread):
    """Reads a pipe (a child's standard error) to its end in the
    background, keeping its lines, so the child never blocks on it.
    ``start()`` it, then ``join()`` once the child has exited."""

    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream = stream
        self.lines = []

    def run(self):
        for raw in iter(self.stream.readline, b''):
            line = raw.decode('utf-8', 'replace').strip()
            if line and len(self.lines) < 100000:
                self.lines.append(line)


def iter_frames(path, width=FRAME_WIDTH, height=FRAME_HEIGHT, fps=FPS,
                chunk=FRAME_CHUNK, fit='stretch', strict=False, warn=None):
    """Stream the frames of ``path`` as RGB uint8 chunks.

    Args:
        path: any file ffmpeg reads.
        width, height: output size in pixels (456x256 as in the paper).
        fps: output frame rate (25 as in the paper); None keeps the source's.
        chunk: frames per yielded array.
        fit: ``'stretch'`` (the release's resize; a warning when the aspect
            ratio is far from the output's), ``'pad'`` or ``'crop'``.
        strict, warn: see :func:`check_decoded` (checked once the stream
            has been read to its end).

    Yields:
        ``(k, height, width, 3)`` uint8 arrays, ``k <= chunk``.

    Raises:
        MediaError: missing or unreadable file, no video track, or no frame
            could be decoded; ffmpeg silent for :data:`STALL_TIMEOUT`.

    (Over 60 lines with this docstring; its code is 42 lines.)
    """
    info = probe(path)
    if not info.has_video:
        raise MediaError('{}: no video track'.format(path))
    filters = fit_filters(fit, width, height)
    _check_aspect(path, info, width, height, fit, warn)
    if fps is not None:
        filters.insert(0, 'fps={}'.format(fps))
    cmd = [ffmpeg_exe(), '-hide_banner', '-nostdin', '-v', 'error', '-i',
           ffmpeg_path(path), '-an', '-vf', ','.join(filters),
           '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1']
    frame_bytes = width * height * 3
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            bufsize=0)
    drain = Drain(proc.stderr)
    drain.start()
    total = 0
    try:
        while True:
            data = _read_exactly(proc.stdout, frame_bytes * chunk, path)
            n = len(data) // frame_bytes
            if n:
                total += n
                yield numpy.frombuffer(data[:n * frame_bytes],
                                       dtype=numpy.uint8).reshape(
                                           n, height, width, 3)
            if len(data) < frame_bytes * chunk:
                break
        wait(proc, drain)
        if total == 0:
            raise MediaError('{}: no decodable frame ({})'.format(
                path, drain.lines[-1] if drain.lines else 'empty video'))
        rate = fps if fps is not None else info.fps
        if rate:
            check_decoded(path, 'video', total / rate, info.duration,
                          drain.lines, strict, warn)
    finally:
        if proc.poll() is None:
            proc.kill()
        wait(proc, drain)
        proc.stdout.close()
        proc.stderr.close()


def wait(proc, drain):
    """Wait at most :data:`TIMEOUT` seconds for ``proc`` to exit (then
    kill it) and for its :class:`Drain` to finish; the exit status."""
    try:
        proc.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    drain.join(timeout=TIMEOUT)
    return proc.returncode


def _read_exactly(stream, n, path):
    """Up to ``n`` bytes of an unbuffered pipe (fewer at its end), waiting
    at most :data:`STALL_TIMEOUT` seconds for each piece."""
    parts = []
    remaining = n
    while remaining > 0:
        ready, _, _ = select.select([stream], [], [], STALL_TIMEOUT)
        if not ready:
            raise MediaError('{}: ffmpeg sent nothing for {} s'.format(
                path, STALL_TIMEOUT))
        part = stream.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b''.join(parts)


def read_frames(path, **kwargs):
    """All frames of ``path`` as one ``(T, H, W, 3)`` uint8 array."""
    return numpy.concatenate(list(iter_frames(path, **kwargs)), axis=0)


def count_frames(path, fps=FPS):
    """Frames :func:`iter_frames` yields for ``path`` at ``fps``, counted by
    decoding it once (for streams whose container gives no duration)."""
    info = probe(path)
    if not info.has_video:
        raise MediaError('{}: no video track'.format(path))
    args = ['-v', 'error', '-nostats', '-progress', 'pipe:1', '-i',
            ffmpeg_path(path), '-an']
    if fps is not None:
        args += ['-vf', 'fps={}'.format(fps)]
    out, err, _ = run_ffmpeg(args + ['-f', 'null', '-'], path,
                             timeout=_timeout(info.duration) + 600)
    counts = re.findall(r'^frame=(\d+)', out.decode('ascii', 'replace'),
                        re.MULTILINE)
    if not counts:
        raise MediaError('{}: cannot count its frames ({})'.format(
            path, _last_line(err)))
    return int(counts[-1])


def check_clip_audio(path, audio, min_seconds=MIN_AUDIO_SECONDS):
    """Refuse a clip with less than ``min_seconds`` of audio (the network's
    shortest input) with one line naming it."""
    if audio.size < min_seconds * SAMPLE_RATE:
        raise MediaError('{}: only {:.2f} s of audio, need at least {:g} s'
                         .format(path, audio.size / SAMPLE_RATE, min_seconds))
    return audio


def check_decoding(decode):
    """``decode`` if it names one of :data:`DECODINGS`; InputError if not."""
    if decode not in DECODINGS:
        raise InputError('decode: must be one of {}, got {!r}'.format(
            ', '.join(DECODINGS), decode))
    return decode


def load_clip_audio(path, min_seconds=MIN_AUDIO_SECONDS, strict=False,
                    warn=None, decode='package'):
    """16 kHz audio of a clip for prediction, refusing clips under 1 s.

    ``decode``: ``'package'`` (:func:`decode_audio`) or ``'release'``
    (:func:`decode_audio_release`).
    """
    decoder = {'package': decode_audio,
               'release': decode_audio_release}[check_decoding(decode)]
    return check_clip_audio(path, decoder(path, strict=strict, warn=warn),
                            min_seconds)


def expected_frames(info, fps):
    """Frames ffmpeg's ``fps`` filter makes of a clip (None if its container
    gives no duration, or no rate is known)."""
    if info.duration is None or not fps:
        return None
    return max(1, int(math.ceil(info.duration * fps - 1e-6)))


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
