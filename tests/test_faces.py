"""Faces (OpenCV Haar cascades), aligned crops and the face / map overlap
of Ventura et al. (2017) §4.2-4.3."""

import glob
import os
import pickle
import shutil
import subprocess

import numpy
import pytest
import skimage.data

from deep_impression.cli import main
from deep_impression.errors import DeepImpressionError
from deep_impression.interpret import faces, overlap
from deep_impression.media import ffmpeg_exe

from clips import make_clip


def write_face_clip(path, seconds=1.2, size=(320, 180), fps=30, seed=0,
                    tone=220):
    """An mp4 of the face in scikit-image's astronaut photograph drifting
    over a plain background, with a sine tone: a clip where the face
    detector has something to find."""
    rng = numpy.random.RandomState(seed)
    photo = skimage.data.astronaut()[20:280, 110:340]       # head, 230x260
    width, height = size
    side = int(height * 0.8)
    import cv2
    face = cv2.resize(photo, (side * 230 // 260, side))
    background = rng.randint(40, 200, 3).astype(numpy.uint8)
    n = int(round(seconds * fps))
    cmd = [ffmpeg_exe(), '-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt',
           'rgb24', '-s', '{}x{}'.format(width, height), '-r', str(fps),
           '-i', 'pipe:0', '-f', 'lavfi', '-i',
           'sine=frequency={}:sample_rate=44100'.format(tone),
           '-t', str(seconds), '-c:v', 'libx264', '-pix_fmt', 'yuv420p',
           '-c:a', 'aac', str(path)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    x_range = width - face.shape[1]
    for i in range(n):
        frame = numpy.empty((height, width, 3), numpy.uint8)
        frame[...] = background
        x = int(x_range * (0.5 + 0.4 * numpy.sin(i / 8.0 + seed)))
        y = (height - face.shape[0]) // 2
        frame[y:y + face.shape[0], x:x + face.shape[1]] = face
        proc.stdin.write(frame.tobytes())
    proc.stdin.close()
    assert proc.wait() == 0
    return str(path)


@pytest.fixture(scope='module')
def astronaut():
    return numpy.ascontiguousarray(skimage.data.astronaut())   # 512x512 RGB


def test_detector_finds_the_face_in_a_photograph(astronaut):
    box = faces.FaceDetector().face(astronaut)
    assert box is not None
    x0, y0, x1, y1 = box
    # Eileen Collins' face in scikit-image's photograph: her eyes are near
    # (200, 100) and (247, 102), her mouth near (224, 145) (read off the
    # picture by eye).
    for x, y in ((200, 100), (247, 102), (224, 145)):
        assert x0 <= x < x1 and y0 <= y < y1
    assert 60 <= x1 - x0 <= 160


def test_detector_finds_no_face_in_a_blank_frame():
    detector = faces.FaceDetector()
    assert detector.face(numpy.zeros((256, 456, 3), numpy.uint8)) is None
    assert len(detector.faces(numpy.full((256, 456, 3), 200,
                                         numpy.uint8))) == 0


def test_eyes_found_and_aligned_to_template(astronaut):
    detector = faces.FaceDetector()
    box = detector.face(astronaut)
    (lx, ly), (rx, ry) = detector.eyes(astronaut, box)
    assert abs(lx - 200) < 10 and abs(ly - 100) < 10
    assert abs(rx - 247) < 10 and abs(ry - 102) < 10


def test_alignment_moves_the_eyes_to_the_template():
    # Two bright dots as eyes in a tilted, off-centre position.
    frame = numpy.zeros((256, 456, 3), numpy.uint8)
    eyes = ((300.0, 80.0), (340.0, 100.0))
    for x, y in eyes:
        frame[int(y) - 1:int(y) + 2, int(x) - 1:int(x) + 2] = 255
    crop = faces.align_face(frame, *eyes)
    assert crop.shape == (224, 224, 3)
    gray = crop[..., 0].astype(float)
    for (fx, fy) in faces.ALIGNED_EYES:
        x, y = fx * 224, fy * 224
        patch = gray[int(y) - 6:int(y) + 7, int(x) - 6:int(x) + 7]
        assert patch.max() > 100
    # Nothing bright anywhere else.
    gray[int(0.40 * 224) - 8:int(0.40 * 224) + 9] = 0
    assert gray.max() == 0


def test_face_crops_transform_counts_dropped_frames(astronaut):
    frame = numpy.ascontiguousarray(astronaut[:288, 40:552])  # 512x288
    blank = numpy.zeros_like(frame)
    transform = pickle.loads(pickle.dumps(faces.FaceCrops()))
    crops, dropped = transform(numpy.stack([frame, blank, frame]))
    assert crops.shape == (2, 224, 224, 3) and crops.dtype == numpy.uint8
    assert dropped == 1
    assert transform.counts == {'frames': 3, 'eyes': 2, 'box': 0,
                                'dropped': 1}
    # The aligned crop has the face's skin in the middle, not background.
    centre = crops[0, 100:140, 95:130].astype(float).mean(axis=(0, 1))
    assert centre[0] > centre[2] + 30       # reddish skin


def test_face_crops_refuses_bad_input():
    with pytest.raises(DeepImpressionError, match='uint8'):
        faces.FaceCrops()(numpy.zeros((2, 64, 64, 3), numpy.float32))


def test_openface_box_and_eyes_from_landmarks():
    pts = numpy.zeros((68, 2))
    pts[:, 0] = numpy.linspace(640, 800, 68)
    pts[:, 1] = numpy.linspace(200, 420, 68)
    box = faces.openface_box(pts, scale=(456 / 1280, 256 / 720))
    assert box == (228, 71, 286, 151)
    left, right = faces.openface_eyes(pts)
    assert left[0] < right[0]
    numpy.testing.assert_allclose(left, pts[36:42].mean(axis=0))


# -- overlap (paper §4.2) ----------------------------------------------------

def test_overlap_on_hand_made_masks():
    face = numpy.zeros((10, 10), bool)
    face[2:6, 2:6] = True                      # 16 pixels
    cam = numpy.zeros((10, 10), bool)
    cam[4:8, 4:6] = True                       # 8 pixels, 4 inside the face
    assert overlap.overlap(face, cam) == 0.5
    # Recall, not Jaccard: a map inside a larger face scores 1.
    assert overlap.overlap(face, face & cam) == 1.0
    assert overlap.overlap(face, ~face) == 0.0
    with pytest.raises(DeepImpressionError):
        overlap.overlap(face, numpy.zeros((10, 10), bool))


def test_box_mask_and_cam_mask():
    mask = overlap.box_mask(4, 6, (1, 1, 3, 9))
    expected = numpy.zeros((4, 6), bool)
    expected[1:4, 1:3] = True
    assert numpy.array_equal(mask, expected)
    # A map that is high on its right third: M_CAM covers that part only.
    cam = numpy.array([[0.0, 0.0, 1.0]] * 3)
    m = overlap.cam_mask(cam, 30, 30)
    assert m[:, 25:].all() and not m[:, :18].any()
    # Shifting the map does not change the mask.
    assert numpy.array_equal(overlap.cam_mask(cam - 5, 30, 30), m)


def test_face_overlap_ranks_frames_and_pools_traits():
    H, W = 20, 20
    R = 4
    traits = numpy.zeros((R, 5))
    traits[:, 0] = [0.9, 0.1, 0.8, 0.7]
    cams = numpy.zeros((R, 5, 2, 2))
    cams[:, :, 0, 0] = 1.0                    # peak in the top-left
    boxes = numpy.array([[0, 0, 10, 10], [10, 10, 20, 20],
                         [10, 10, 20, 20], [numpy.nan] * 4])
    scores = overlap.FrameScores(numpy.array(['a', 'a', 'b', 'b']),
                                 numpy.arange(R), traits, cams, boxes,
                                 'opencv', (H, W))
    result = overlap.face_overlap(scores, top=3)
    ext = result['traits']['extraversion']
    assert [f['row'] for f in ext['top_frames']] == [0, 2, 3]
    assert ext['no_face'] == 1
    # Independent: the mask of the bilinearly upsampled one-peak map.
    from deep_impression.interpret.cam import upsample
    up = upsample(cams[0, 0], H, W)
    m = up - up.min() >= 0.8 * (up.max() - up.min())
    inside = m[:10, :10].sum() / m.sum()
    assert ext['mean_overlap'] == pytest.approx(inside / 2)
    assert ext['share_at_least'] == (0.5 if inside >= 0.9 else 0.0)
    text = overlap.report_markdown(result, 'test')
    assert '| extraversion | 3 | 1 |' in text


def test_preprocess_faces_stores_aligned_crops(synthetic_raw, tmp_path,
                                               capsys):
    from deep_impression.data.store import ClipStore
    raw = tmp_path / 'raw'
    shutil.copytree(synthetic_raw, str(raw))
    clips = sorted(glob.glob(str(raw / '**' / '*.mp4'), recursive=True))
    train = [c for c in clips if os.sep + 'train' + os.sep in c]
    # One training clip shows a face, one ffmpeg's test pattern (no face);
    # the others go.
    write_face_clip(train[0], seconds=2.0)
    make_clip(train[1], seconds=2.0, size=(160, 90))
    for c in clips:
        if c not in train[:2]:
            os.remove(c)
    out = tmp_path / 'faces'
    status = main(['preprocess', str(raw), str(out), '--faces', '--jobs',
                   '1'])
    err = capsys.readouterr().err
    # The test pattern has no face in any frame: that clip fails.
    assert status == 1
    assert 'no frames kept by the frame transform' in err
    store = ClipStore(str(out))
    ids = store.clip_ids('train')
    assert ids == [os.path.basename(train[0])[:-len('.mp4')]]
    assert store.frame_size == (224, 224)
    kept, dropped, n = faces.dropped_frames(str(out))
    assert n == 1 and kept == store.num_frames(ids[0])
    assert kept + dropped == 50           # 2 s at 25 frames/s
    assert kept >= 40
    assert 'faces: {} of 50 frames of 1 clips had no detected face'.format(
        dropped) in err
    # Every stored frame is an aligned face: skin in the middle.
    middle = store.frame(ids[0], 0)[100:140, 95:130].astype(float)
    assert middle[..., 0].mean() > middle[..., 2].mean() + 30
