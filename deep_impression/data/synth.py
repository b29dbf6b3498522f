"""A synthetic stand-in for the ChaLearn First Impressions release.

The real dataset cannot be downloaded on these machines, so tests and the
default ``make reproduce`` run use clips made here, laid out, named, encoded
and annotated like the challenge's (see :mod:`deep_impression.data.chalearn`):
H.264 + AAC mp4 files, 1280x720 at 30 frames/s by default, named
``<11-character YouTube id>.<3 digits>.mp4`` in folders of 80
(``train/training80_01/...``), and the three Python 2 annotation pickles.

What the labels depend on, so that a short training run can show learning
from either stream and neither stream alone explains them:

* picture (global, so any 224x224 crop of any frame shows it): the
  background's ``brightness`` and ``warmth`` (blue to orange), and the
  ``size`` of a moving skin-coloured ellipse (a "head");
* sound: a voice-like tone (harmonics of a pitch with vibrato, cut into
  syllables) whose ``pitch`` (100-260 Hz) and ``loudness`` vary by clip.

Each clip draws these five features uniformly from [-1, 1]; each trait is
``0.5 + 0.15 * z`` with ``z`` a fixed mix of them plus noise, normalised to
unit variance (:data:`MIXING`), clipped to [0, 1]. The picture carries
about 60 % of the variance, the sound about 30 %, noise the rest.
Everything is drawn from ``seed``: the same seed gives the same clips and
labels (the encoders run single-threaded and bit-exact).
"""

import multiprocessing
import os
import subprocess
import zipfile

import numpy

from deep_impression import fileio
from deep_impression.data import chalearn, synth_faces
from deep_impression.constants import TRAITS
from deep_impression.errors import DeepImpressionError
from deep_impression import media
from deep_impression.media import ffmpeg_exe, ffmpeg_path
from deep_impression.progress import progress

#: Per-clip features, each uniform in [-1, 1].
FEATURES = ('brightness', 'warmth', 'size', 'pitch', 'loudness')
VISUAL_FEATURES = ('brightness', 'warmth', 'size')
AUDIO_FEATURES = ('pitch', 'loudness')

#: Weights of the features (columns, in FEATURES order) for each trait
#: (rows, in TRAITS order). Every trait mixes picture and sound.
MIXING = numpy.array([
    # brightness warmth size  pitch loudness
    [0.9, 0.0, 0.3, 0.0, 0.6],    # extraversion
    [0.0, 0.9, 0.3, 0.6, 0.0],    # agreeableness
    [0.6, -0.6, 0.0, 0.0, 0.5],   # conscientiousness
    [-0.6, 0.3, 0.3, -0.6, 0.0],  # neuroticism
    [0.3, 0.6, -0.3, 0.0, -0.6],  # openness
])
#: With ``look='face'``: the weights of the features above and of the four
#: face features (:data:`~deep_impression.data.synth_faces.MOVEMENTS`:
#: smile, brow raise, blink, jaw drop) for each trait. Context (background
#: brightness and warmth) and face both matter; each trait has one main
#: facial movement, its known AU link (smile/AU12 -> agreeableness, brow
#: raise/AU01-02 -> openness, blink/AU45 -> neuroticism and, negatively,
#: conscientiousness, jaw drop/AU26 -> extraversion).
FACE_MIXING = numpy.array([
    # bright warmth size pitch loud  smile brow  blink jaw
    [0.5, 0.0, 0.0, 0.0, 0.3, 0.3, 0.0, 0.0, 0.8],     # extraversion
    [0.0, 0.5, 0.0, 0.3, 0.0, 0.9, 0.0, 0.0, 0.0],     # agreeableness
    [0.5, -0.3, 0.0, 0.0, 0.0, 0.0, 0.0, -0.8, 0.0],   # conscientiousness
    [-0.3, 0.0, 0.0, -0.3, 0.0, -0.3, 0.0, 0.8, 0.0],  # neuroticism
    [0.0, 0.4, 0.0, 0.0, -0.3, 0.0, 0.9, 0.0, 0.0],    # openness
])
#: The looks of a clip's person: the original moving ellipse, or a drawn
#: face whose movements stand for action units (synth_faces).
LOOKS = ('ellipse', 'face')

#: Standard deviation of the label noise, in units of the features' std.
NOISE = 0.35
#: Label mean and standard deviation (before clipping to [0, 1]).
LABEL_MEAN = 0.5
LABEL_STD = 0.15

#: The audio sample rate and channels of the clips (as YouTube's AAC).
SOURCE_SAMPLE_RATE = 44100
CLIPS_PER_FOLDER = 80
FOLDER_NAMES = {'train': 'training80_{:02d}',
                'validation': 'validation80_{:02d}',
                'test': 'test80_{:02d}'}
#: Archive names used by ``archives=True`` (the release as downloaded).
ARCHIVE_NAMES = {'train': 'train-{}.zip', 'validation': 'val-{}.zip',
                 'test': 'test-{}.zip'}
ANNOTATION_ARCHIVES = {'train': 'train-annotation.zip',
                       'validation': 'val-annotation.zip',
                       'test': 'test-annotation.zip'}
#: Inner folder archives per top-level archive (75 training folders came in
#: 6 archives of up to 15).
FOLDERS_PER_ARCHIVE = 15

_ID_ALPHABET = ('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
                '0123456789-_')


def feature_std(mixing=MIXING):
    """Standard deviation of each trait's raw mix (features + noise)."""
    # Uniform[-1, 1] has variance 1/3.
    return numpy.sqrt((mixing ** 2).sum(axis=1) / 3.0 + NOISE ** 2 / 3.0)


def labels_from_features(features, noise, mixing=MIXING):
    """Traits of a clip from its features and its noise draws.

    Args:
        features: (5,) in FEATURES order, each in [-1, 1] (with
            :data:`FACE_MIXING`: (9,), the face features after them).
        noise: (5,) standard normal draws.

    Returns:
        (5,) float64 in TRAITS order, in [0, 1].
    """
    z = mixing @ features + NOISE * numpy.sqrt(1.0 / 3.0) * noise
    return numpy.clip(LABEL_MEAN + LABEL_STD * z / feature_std(mixing),
                      0.0, 1.0)


def pitch_hz(pitch):
    """Fundamental frequency (Hz) of the voice for a ``pitch`` feature."""
    return 160.0 * 2.0 ** (0.7 * pitch)   # 98 .. 260 Hz


def amplitude(loudness):
    """Peak amplitude of the voice for a ``loudness`` feature."""
    return 0.05 + 0.35 * (loudness + 1.0) / 2.0   # 0.05 .. 0.4


def background_rgb(brightness, warmth):
    """Mean background colour (RGB, 0-255) for two visual features."""
    value = 0.25 + 0.5 * (brightness + 1.0) / 2.0   # 0.25 .. 0.75
    t = (warmth + 1.0) / 2.0
    blue = numpy.array([0.45, 0.65, 1.0])
    orange = numpy.array([1.0, 0.6, 0.3])
    return 255.0 * value * ((1 - t) * blue + t * orange) / 0.8


def head_radius(size, height):
    """Vertical radius (pixels) of the ellipse for a ``size`` feature."""
    return height * (0.15 + 0.12 * (size + 1.0) / 2.0)


def _voice(rng, features, seconds, sample_rate):
    # Harmonics of f0 with 5 Hz vibrato, cut into syllables, plus faint noise.
    n = int(round(seconds * sample_rate))
    t = numpy.arange(n) / sample_rate
    f0 = pitch_hz(features[FEATURES.index('pitch')])
    vibrato = 1.0 + 0.02 * numpy.sin(2 * numpy.pi * 5.0 * t
                                     + rng.uniform(0, 2 * numpy.pi))
    phase = 2 * numpy.pi * numpy.cumsum(f0 * vibrato) / sample_rate
    wave = numpy.zeros(n)
    for k in range(1, 9):
        wave += numpy.sin(k * phase) / k
    wave /= numpy.abs(wave).max()
    envelope = numpy.zeros(n)
    start = rng.uniform(0.0, 0.2)
    while start < seconds:
        length = rng.uniform(0.12, 0.35)
        a, b = int(start * sample_rate), int(min(start + length, seconds)
                                              * sample_rate)
        if b > a:
            envelope[a:b] = numpy.sin(numpy.linspace(0, numpy.pi, b - a))
        start += length + rng.uniform(0.04, 0.3)
    voice = amplitude(features[FEATURES.index('loudness')]) * envelope * wave
    voice += 0.003 * rng.standard_normal(n)
    return voice.astype(numpy.float32), envelope


def _render_frames(rng, features, seconds, size, fps, envelope, sample_rate,
                   tracks=None):
    # Yields (H, W, 3) uint8 frames: a textured background of the clip's
    # colour, a moving ellipse whose "mouth" opens with the voice (or, with
    # movement tracks, a drawn face making those movements).
    width, height = size
    base = background_rgb(features[0], features[1])
    # Low-frequency texture and a vertical gradient, made once per clip.
    small = rng.standard_normal((9, 16, 3)) * 8.0
    ys = numpy.linspace(0, 8, height)
    xs = numpy.linspace(0, 15, width)
    y0 = numpy.clip(ys.astype(int), 0, 7)
    x0 = numpy.clip(xs.astype(int), 0, 14)
    fy = (ys - y0)[:, None, None]
    fx = (xs - x0)[None, :, None]
    texture = ((1 - fy) * (1 - fx) * small[y0][:, x0]
               + (1 - fy) * fx * small[y0][:, x0 + 1]
               + fy * (1 - fx) * small[y0 + 1][:, x0]
               + fy * fx * small[y0 + 1][:, x0 + 1])
    gradient = numpy.linspace(1.1, 0.9, height)[:, None, None]
    background = numpy.clip(base * gradient + texture, 0, 255).astype(
        numpy.uint8)
    ry = head_radius(features[2], height)
    rx = 0.8 * ry
    skin = numpy.array([224, 172, 140], dtype=numpy.float64)
    phase = rng.uniform(0, 2 * numpy.pi)
    n_frames = int(round(seconds * fps))
    for i in range(n_frames):
        t = i / fps
        frame = background.copy()
        cx = width / 2 + 0.15 * width * numpy.sin(0.6 * t + phase)
        cy = height / 2 + 0.05 * height * numpy.sin(1.1 * t + phase)
        if tracks is not None:
            yield synth_faces.draw_face(frame, cx, cy, ry,
                                        *tracks[min(i, len(tracks) - 1)])
            continue
        x_lo, x_hi = int(max(cx - rx - 1, 0)), int(min(cx + rx + 2, width))
        y_lo, y_hi = int(max(cy - ry - 1, 0)), int(min(cy + ry + 2, height))
        yy, xx = numpy.mgrid[y_lo:y_hi, x_lo:x_hi]
        inside = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0
        opening = envelope[min(int(t * sample_rate), envelope.size - 1)]
        mouth = (((xx - cx) / (0.35 * rx)) ** 2
                 + ((yy - (cy + 0.45 * ry)) / (0.05 * ry + 0.12 * ry
                                               * opening)) ** 2 <= 1.0)
        patch = frame[y_lo:y_hi, x_lo:x_hi]
        patch[inside] = skin.astype(numpy.uint8)
        patch[inside & mouth] = (90, 30, 40)
        yield frame


def write_clip(path, seed_seq, features, seconds=15.0, size=(1280, 720),
               fps=30, face_features=None, openface_path=None):
    """Encode one synthetic clip (H.264 + AAC mp4) at ``path``, atomically.

    Args:
        path: output .mp4 path.
        seed_seq: ``numpy.random.SeedSequence`` for the clip's noise.
        features: (5,) in FEATURES order.
        seconds: duration in seconds.
        size: (width, height) in pixels (even numbers, for yuv420p).
        fps: frame rate of the clip.
        face_features: (4,) in [-1, 1] to draw a face making the movements
            of :mod:`~deep_impression.data.synth_faces` (None: the ellipse).
        openface_path: with ``face_features``, where to write the true
            movement intensities as an OpenFace CSV.
    """
    rng = numpy.random.default_rng(seed_seq)
    width, height = size
    voice, envelope = _voice(rng, features, seconds, SOURCE_SAMPLE_RATE)
    tracks = None
    if face_features is not None:
        n_frames = int(round(seconds * fps))
        at_frames = envelope[numpy.minimum(
            (numpy.arange(n_frames) / fps * SOURCE_SAMPLE_RATE).astype(int),
            envelope.size - 1)]
        tracks = synth_faces.movement_tracks(rng, face_features, n_frames,
                                             fps, at_frames)
        if openface_path:
            synth_faces.write_openface_csv(openface_path, tracks, fps)
    audio_tmp = '{}{}{}.f32'.format(path, fileio.TEMPORARY_MARK, os.getpid())
    # Stereo, as the YouTube originals; both channels carry the voice.
    numpy.repeat(voice[:, None], 2, axis=1).astype('<f4').tofile(audio_tmp)
    cmd = [ffmpeg_exe(), '-hide_banner', '-nostdin', '-v', 'error', '-y',
           '-f', 'rawvideo', '-pix_fmt', 'rgb24',
           '-s', '{}x{}'.format(width, height), '-r', str(fps),
           '-i', 'pipe:0',
           '-f', 'f32le', '-ar', str(SOURCE_SAMPLE_RATE), '-ac', '2',
           '-i', ffmpeg_path(audio_tmp),
           '-map', '0:v', '-map', '1:a', '-t', '{:.6f}'.format(seconds),
           '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23',
           '-pix_fmt', 'yuv420p', '-threads', '1',
           '-c:a', 'aac', '-b:a', '128k',
           '-fflags', '+bitexact', '-flags:v', '+bitexact',
           '-flags:a', '+bitexact', '-map_metadata', '-1',
           '-movflags', '+faststart', '-f', 'mp4']
    try:
        with fileio.atomic_path(path, suffix='.mp4') as tmp:
            _encode(cmd + [ffmpeg_path(tmp)], path, _render_frames(
                rng, features, seconds, size, fps, envelope,
                SOURCE_SAMPLE_RATE, tracks))
    finally:
        if os.path.exists(audio_tmp):
            os.remove(audio_tmp)


def _encode(cmd, path, frames):
    """Run ffmpeg ``cmd``, writing ``frames`` (RGB arrays) to its input;
    its error output is read as it goes (a full pipe would block it)."""
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    drain = media.Drain(proc.stderr)
    drain.start()
    try:
        try:
            for frame in frames:
                proc.stdin.write(frame.tobytes())
        except BrokenPipeError:
            pass
        proc.stdin.close()
        if media.wait(proc, drain) != 0:
            raise DeepImpressionError('{}: ffmpeg could not encode ({})'
                                      .format(path, ' '.join(
                                          drain.lines[-3:])[-300:]))
    finally:
        if proc.poll() is None:
            proc.kill()
        media.wait(proc, drain)
        proc.stderr.close()


def _youtube_ids(rng, n):
    ids = set()
    out = []
    while len(out) < n:
        k = ''.join(rng.choice(list(_ID_ALPHABET), 11))
        if k not in ids:
            ids.add(k)
            out.append(k)
    return out


def plan(train=60, val=20, test=20, seed=0, look='ellipse'):
    """The clips of a synthetic release: names, splits, features, labels.

    Returns:
        list of dicts with ``split``, ``name`` (clip file name), ``folder``
        (e.g. ``training80_01``), ``features`` (5,), ``labels`` (5,) in
        TRAITS order, ``interview`` and ``seed`` (a SeedSequence for the
        clip's media); with ``look='face'`` also ``face_features`` (4,)
        (the labels then follow :data:`FACE_MIXING`).
    """
    if look not in LOOKS:
        raise DeepImpressionError('look {!r}: choose one of {}'.format(
            look, ', '.join(LOOKS)))
    counts = {'train': train, 'validation': val, 'test': test}
    for split, n in counts.items():
        if n < 0:
            raise DeepImpressionError('{} clips: {} < 0'.format(split, n))
    root = numpy.random.SeedSequence(seed)
    meta_seq, media_seq = root.spawn(2)
    rng = numpy.random.default_rng(meta_seq)
    # A third stream for the face features: the first two, and so the
    # ellipse look's clips and labels, stay as they were.
    face_rng = numpy.random.default_rng(root.spawn(1)[0])
    total = sum(counts.values())
    # Several clips per YouTube video (.001, .002 ...), each video's clips
    # in one split.
    videos = iter(_youtube_ids(rng, total))
    names = {}
    for split in chalearn.SPLITS:
        names[split] = []
        while len(names[split]) < counts[split]:
            video, first = next(videos), int(rng.integers(0, 6))
            for k in range(int(rng.integers(1, 4))):
                names[split].append('{}.{:03d}.mp4'.format(video, first + k))
        del names[split][counts[split]:]
    clip_seeds = media_seq.spawn(total)
    clips = []
    i = 0
    for split in chalearn.SPLITS:
        for j in range(counts[split]):
            features = rng.uniform(-1.0, 1.0, size=len(FEATURES))
            noise = rng.standard_normal(len(TRAITS))
            face = None
            if look == 'face':
                face = face_rng.uniform(-1.0, 1.0,
                                        size=len(synth_faces.MOVEMENTS))
                labels = labels_from_features(
                    numpy.concatenate([features, face]), noise, FACE_MIXING)
            else:
                labels = labels_from_features(features, noise)
            interview = float(numpy.clip(
                0.5 + 0.8 * (labels.mean() - 0.5)
                + 0.05 * rng.standard_normal(),
                0.0, 1.0))
            clips.append(dict(
                split=split, name=names[split][j],
                folder=FOLDER_NAMES[split].format(j // CLIPS_PER_FOLDER + 1),
                features=features, labels=labels, interview=interview,
                seed=clip_seeds[i], face_features=face))
            i += 1
    return clips


def _annotations(clips, split):
    table = {key: {} for key in chalearn.ANNOTATION_KEYS}
    for clip in clips:
        if clip['split'] != split:
            continue
        for trait, value in zip(TRAITS, clip['labels']):
            table[trait][clip['name']] = float(value)
        table['interview'][clip['name']] = clip['interview']
    return table


def _encode_job(job):
    path, seed_seq, features, seconds, size, fps, face, openface_path = job
    if not os.path.exists(path) or (
            openface_path and not os.path.exists(openface_path)):
        write_clip(path, seed_seq, features, seconds, size, fps, face,
                   openface_path)
    return path


def check_target(out_dir, force=False):
    """Refuse to write a synthetic release over other files.

    ``out_dir`` may be missing, empty, or a synthetic release made before
    (it holds ``synth_info.json``; its clips are kept or replaced). Any
    other folder with files in it (a real release: its annotation pickles
    would be replaced) needs ``force``.

    Raises:
        DeepImpressionError: ``out_dir`` is a file, or a non-empty folder
            that is not a synthetic release, without ``force``.
    """
    out_dir = os.fspath(out_dir)
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise DeepImpressionError('{}: is a file, not a folder'.format(
            out_dir))
    if force or not os.path.isdir(out_dir) or not os.listdir(out_dir) or \
            os.path.exists(os.path.join(out_dir, 'synth_info.json')):
        return
    raise DeepImpressionError(
        '{}: not empty and not a synthetic dataset; writing there would '
        'replace its annotation files (choose an empty folder, or add '
        '--force)'.format(out_dir))


def make_dataset(out_dir, train=60, val=20, test=20, seconds=15.0,
                 size=(1280, 720), fps=30, seed=0, archives=False, jobs=1,
                 force=False, look='ellipse'):
    """Write a synthetic release in the ChaLearn First Impressions format.

    Layout (as the archives extract)::

        out_dir/annotation_training.pkl, annotation_validation.pkl,
                annotation_test.pkl
        out_dir/train/training80_01/<id>.<nnn>.mp4 ...
        out_dir/validation/validation80_01/...
        out_dir/test/test80_01/...
        out_dir/synth_info.json   (features and labels, for checking)
        out_dir/openface/<id>.<nnn>.csv   (look='face': the true movement
                                           intensities, OpenFace format)

    With ``archives=True`` the clips and pickles are instead packed as the
    release was downloaded: ``train-1.zip`` holding ``training80_01.zip``
    ... (each holding its folder), and ``train-annotation.zip`` etc.

    Clips already present are kept (a run can be resumed). A folder with
    other files in it is refused unless ``force`` (:func:`check_target`).

    Args:
        out_dir: output directory (created).
        train, val, test: number of clips per split.
        seconds: clip duration in seconds (15 in the challenge).
        size: (width, height) of the clips (1280x720 in the challenge).
        fps: frame rate of the clips (30 in the challenge).
        seed: random seed; the same seed gives the same dataset.
        archives: write zip archives instead of extracted folders.
        jobs: clips encoded in parallel.
        force: write into a folder that holds other files.
        look: ``'ellipse'`` (the default) or ``'face'``: a drawn face
            whose movements stand for action units (:mod:`~deep_impression.
            data.synth_faces`; labels from :data:`FACE_MIXING`).

    Returns:
        list of clip dicts (see :func:`plan`).

    Raises:
        DeepImpressionError: a bad size, duration or frame rate, no clip
            asked for, or a target refused by :func:`check_target`.

    (Over 60 lines with this docstring; its code is 54 lines.)
    """
    width, height = size
    if width % 2 or height % 2 or width < 16 or height < 16:
        raise DeepImpressionError(
            'size {}x{}: width and height must be even and >= 16'.format(
                width, height))
    if seconds <= 0 or fps <= 0:
        raise DeepImpressionError('seconds and fps must be positive')
    if min(train, val, test) < 0 or train + val + test == 0:
        raise DeepImpressionError(
            '--train {} --val {} --test {}: need at least one clip and no '
            'negative count'.format(train, val, test))
    check_target(out_dir, force)
    clips = plan(train, val, test, seed, look)
    out_dir = os.fspath(out_dir)
    openface_dir = os.path.join(out_dir, 'openface')
    if look == 'face':
        os.makedirs(openface_dir, exist_ok=True)
    media_dir = os.path.join(out_dir, '.media') if archives else out_dir
    jobs_list = []
    for clip in clips:
        folder = os.path.join(media_dir, clip['split'], clip['folder'])
        os.makedirs(folder, exist_ok=True)
        clip['path'] = os.path.join(folder, clip['name'])
        openface_path = None
        if look == 'face':
            openface_path = os.path.join(
                openface_dir, os.path.splitext(clip['name'])[0] + '.csv')
        jobs_list.append((clip['path'], clip['seed'], clip['features'],
                          seconds, size, fps, clip['face_features'],
                          openface_path))
    bar = progress(total=len(jobs_list), desc='synth', unit='clip')
    if jobs > 1 and len(jobs_list) > 1:
        with multiprocessing.Pool(jobs) as pool:
            for _ in pool.imap_unordered(_encode_job, jobs_list):
                bar.update(1)
    else:
        for job in jobs_list:
            _encode_job(job)
            bar.update(1)
    bar.close()
    for split in chalearn.SPLITS:
        table = _annotations(clips, split)
        path = os.path.join(out_dir, chalearn.ANNOTATION_FILES[split])
        if archives:
            data = chalearn.dumps_py2_annotations(table)
            _write_zip(os.path.join(out_dir, ANNOTATION_ARCHIVES[split]),
                       [(chalearn.ANNOTATION_FILES[split], data)])
        else:
            chalearn.write_annotations(path, table)
    if archives:
        _pack_archives(clips, out_dir)
        import shutil
        shutil.rmtree(media_dir)
    info = [dict(split=c['split'], name=c['name'], folder=c['folder'],
                 features=dict(zip(FEATURES, map(float, c['features']))),
                 labels=dict(zip(TRAITS, map(float, c['labels']))),
                 interview=c['interview'],
                 **({} if c['face_features'] is None else dict(
                     face_features=dict(zip(synth_faces.MOVEMENTS, map(
                         float, c['face_features']))))))
            for c in clips]
    fileio.write_json(os.path.join(out_dir, 'synth_info.json'), dict(
        seed=seed, seconds=seconds, size=[width, height], fps=fps,
        features=list(FEATURES), traits=list(TRAITS), look=look,
        mixing=(MIXING if look == 'ellipse' else FACE_MIXING).tolist(),
        movement_aus=(synth_faces.MOVEMENT_AUS if look == 'face' else None),
        noise=NOISE, clips=info))
    return clips


def _write_zip(path, members):
    # members: [(name in the archive, bytes)]; stored, as mp4 and zip data
    # do not compress further.
    with fileio.atomic_open(path, 'wb') as f:
        with zipfile.ZipFile(f, 'w', zipfile.ZIP_STORED) as zf:
            for name, data in members:
                info = zipfile.ZipInfo(name, date_time=(2016, 4, 1, 0, 0, 0))
                zf.writestr(info, data)


def _pack_archives(clips, out_dir):
    import io
    for split in chalearn.SPLITS:
        folders = []
        for clip in clips:
            if clip['split'] == split and clip['folder'] not in folders:
                folders.append(clip['folder'])
        for part in range(0, len(folders), FOLDERS_PER_ARCHIVE):
            inner = []
            for folder in folders[part:part + FOLDERS_PER_ARCHIVE]:
                buf = io.BytesIO()
                with zipfile.ZipFile(buf, 'w', zipfile.ZIP_STORED) as zf:
                    for clip in clips:
                        if clip['split'] == split and clip['folder'] == folder:
                            info = zipfile.ZipInfo(
                                folder + '/' + clip['name'],
                                date_time=(2016, 4, 1, 0, 0, 0))
                            with open(clip['path'], 'rb') as f:
                                zf.writestr(info, f.read())
                inner.append((folder + '.zip', buf.getvalue()))
            name = ARCHIVE_NAMES[split].format(part // FOLDERS_PER_ARCHIVE + 1)
            _write_zip(os.path.join(out_dir, name), inner)
