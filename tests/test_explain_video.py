"""``explain --video``: the MP4 of per-trait maps over time, read back."""

import numpy

from deep_impression.constants import SAMPLE_RATE, TRAITS
from deep_impression.interpret.cam import AudioMap, Explanation
from deep_impression.visualizations.video import (SIZE, VIDEO_FPS,
                                                  explanation_video,
                                                  video_frame_count)


def _explanation(seconds=1.3, k=2):
    rng = numpy.random.RandomState(0)
    frames = numpy.zeros((k, 64, 114, 3), numpy.uint8)
    frames[0, :, :57] = 255        # the first sampled frame: half white
    length = 9
    return Explanation(
        video='clip.mp4', frame_indices=numpy.array([5, 25])[:k],
        frames=frames,
        cams=rng.normal(size=(k, len(TRAITS), 3, 4)).astype(numpy.float32),
        frame_traits=rng.uniform(size=(k, len(TRAITS))),
        traits=rng.uniform(size=len(TRAITS)),
        audio=numpy.zeros(int(seconds * SAMPLE_RATE), numpy.float32),
        audio_map=AudioMap(
            rng.normal(size=(len(TRAITS), length)).astype(numpy.float32),
            (numpy.arange(length) + 0.5) * seconds / length,
            numpy.zeros(256, numpy.float32)))


def test_mp4_has_the_clips_duration_and_size(tmp_path):
    import imageio_ffmpeg
    e = _explanation(seconds=1.3)
    path = explanation_video(e, str(tmp_path / 'clip.mp4'))
    reader = imageio_ffmpeg.read_frames(path)
    meta = reader.__next__()
    assert tuple(meta['size']) == SIZE and meta['fps'] == VIDEO_FPS
    frames = [numpy.frombuffer(f, numpy.uint8).reshape(SIZE[1], SIZE[0], 3)
              for f in reader]
    # 1.3 s at 5 frames/s: frames at 0, 0.2, ..., 1.2 s.
    assert video_frame_count(1.3) == 7 and len(frames) == 7
    assert [n for n in tmp_path.iterdir()] == [tmp_path / 'clip.mp4']
    # Sampled frame 5 (0.2 s) is shown first, frame 25 (1.0 s) last: the
    # plain-frame tile (bottom right of the six) is half white, then black.
    tile = (slice(int(0.40 * SIZE[1]), int(0.55 * SIZE[1])),
            slice(int(0.70 * SIZE[0]), int(0.98 * SIZE[0])))
    assert frames[0][tile].mean() > frames[-1][tile].mean() + 40
    # The cursor moves: consecutive frames with the same picture differ.
    assert numpy.abs(frames[0].astype(int) - frames[1]).sum() > 0
