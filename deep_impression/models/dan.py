"""DAN+ and CAM-DAN+: the visual network of the ChaLearn 2016 winners
(Zhang et al. 2016, *Deep Bimodal Regression for Apparent Personality
Analysis*) and Ventura et al.'s (2017) version of it with a class
activation map module.

Both are a VGG-16 backbone (:class:`~.vgg.VGG16Backbone`; VGG-Face in the
papers) with its fully connected layers removed and a new head:

* :class:`DANPlus` (Ventura et al. Figure 3.a): ``relu5_2`` and ``pool5``
  are each max- and average-pooled over all positions, each of the four
  vectors L2-normalised, and the four concatenated (2048 values for VGG-16)
  before one fully connected layer with five outputs.
* :class:`CAMDANPlus` (Figure 3.b): the relu5_2 branch removed; the last
  convolutional layer's maps globally average-pooled (paper eq. (1)) and one
  fully connected layer with five outputs (eq. (2)), so that
  ``CAM_t(x, y) = sum_i W[t, i] unit_i(x, y)`` shows where a trait's value
  comes from (:mod:`~deep_impression.interpret.cam`).

Where each detail comes from (the winners' training script
``train_code/train_regression_DANplus.m`` of github tzzcl/ChaLearn-APA-Code,
MatConvNet):

* the pooling windows (14x14 on relu5_2, 7x7 on pool5 for 224x224 input:
  global pooling) and the order of the concatenation (pool5 max, pool5
  average, relu5_2 average, relu5_2 max): that script;
* the output function, a sigmoid on each of the five outputs: that script
  (``dagnn.Sigmoid`` after ``fc5``); traits are in [0, 1];
* the new layer's initialisation, normal with standard deviation 0.05 and
  zero bias: that script;
* the loss, the Euclidean distance between the five predictions and the
  five labels, averaged over the batch (MatConvNet's ``pdist`` loss with
  p = 2, which their ``vl_nnloss.m`` sums over examples and the trainer
  divides by the batch size): that script;
  :class:`~deep_impression.training.updater.DistanceRegressor`;
* the input: the frame resized to 224x224 (``input_size``) and the
  training set's average image subtracted, a random left/right flip in training: that script.
  **Our choice**: the mean is per colour channel (``mean``, a persistent
  array, saved with the weights), set from the training frames before
  training (:func:`set_mean`); a per-pixel average image and a per-channel
  mean differ by a spatial pattern the first convolution can absorb, and a
  per-channel mean fits frames of any size;
* the optimiser there is SGD with momentum (MatConvNet's default 0.9,
  weight decay 5e-4), batches of 32, learning rates ``logspace(-3, -6, 30)``
  over 10 epochs. **Our choice**: the package's trainer (Adam, the
  three-phase schedule), so that DAN+ runs through the same Trainer,
  snapshots and reports as the other networks; the configuration says which
  alpha.
* which layer CAM-DAN+ pools: Ventura et al. write that the layers after
  pool5's poolings are replaced by the CAM module, "which follows the last
  convolutional layer", and that conv5_3 has a 14x14 grid on 224x224 faces
  (§4.4). **Our reading**: GAP over conv5_3 (after its ReLU; 14x14 for
  224x224 input), as Zhou et al. (2016) place CAM after VGG's last
  convolution; ``cam_layer='pool5'`` (7x7) is the literal other reading.
* eq. (1) writes the pooled feature as a *sum* over positions; we average
  (global *average* pooling, as its name and Zhou et al.), which scales
  every weight by the number of positions and changes nothing else.

Whole clips (Ventura et al. §4.1: 10 frames per video): each frame's FC
input is computed, averaged over the frames, and the FC layer and sigmoid
applied once -- the package's whole-clip loop
(:mod:`deep_impression.inference.clip`). The FC layer being linear, this is
the sigmoid of the frames' mean logit. **Our choice**; the winners average
frame predictions after the sigmoid, which differs only where frames
disagree strongly.

Both networks take ``forward(audio, frames)`` like the audiovisual network
and ignore the audio, so the package's training, evaluation and prediction
run them unchanged.
"""

from deep_impression import _compat  # noqa: F401  (before chainer)

import chainer
import chainer.functions as F
import chainer.links as L
import numpy

from deep_impression import inputs
from deep_impression.constants import TRAITS
from deep_impression.models.vgg import VGG16Backbone

#: VGG-Face's mean colour (RGB, 0-255; the average image of its training
#: faces), the default of ``mean`` until :func:`set_mean` sets the
#: training frames' own.
VGG_FACE_MEAN = (129.1863, 104.7624, 93.5940)

#: The winners' initialisation of the new fully connected layer.
FC_INIT_SCALE = 0.05

#: DAN+ resizes every frame (or face) to 224x224 (the winners' script).
INPUT_SIZE = 224

#: Layers CAM-DAN+ can pool (see the module's note).
CAM_LAYERS = ('conv5_3', 'pool5')

#: Frames per backbone pass in :meth:`VisualRegressor.frame_features`.
FRAME_BATCH = 16


def bilinear_matrix(n_in, n_out):
    """``(n_out, n_in)`` float32 weights of bilinear resampling along one
    axis, pixel centres aligned as OpenCV's ``INTER_LINEAR`` (output pixel
    ``i`` samples input coordinate ``(i + 0.5) n_in / n_out - 0.5``, clamped
    to the edge). (Chainer's ``F.resize_images`` needs ``numpy.float``,
    gone from NumPy 2.)"""
    x = (numpy.arange(n_out) + 0.5) * n_in / n_out - 0.5
    x = numpy.clip(x, 0, n_in - 1)
    lo = numpy.minimum(numpy.floor(x).astype(int), n_in - 1)
    hi = numpy.minimum(lo + 1, n_in - 1)
    frac = x - lo
    m = numpy.zeros((n_out, n_in), numpy.float32)
    numpy.add.at(m, (numpy.arange(n_out), lo), 1 - frac)
    numpy.add.at(m, (numpy.arange(n_out), hi), frac)
    return m


def l2_normalize(x, eps=1e-12):
    """Each row of ``(N, D)`` divided by its Euclidean norm."""
    norm = F.sqrt(F.sum(x * x, axis=1, keepdims=True) + eps)
    return x / F.broadcast_to(norm, x.shape)


class VisualRegressor(chainer.Chain):
    """What DAN+ and CAM-DAN+ share: the backbone ``vgg``, the head's one
    fully connected layer ``fc``, the input's ``mean`` colour, the sigmoid,
    and the whole-clip interface of :mod:`deep_impression.inference.clip`.

    Subclasses define :meth:`features` (the FC input) and
    :attr:`pooled_vectors`, how many conv5_x-wide vectors it concatenates.
    """

    pooled_vectors = 1

    #: The layer whose units the interpretation commands study (Ventura et
    #: al. §4.4-4.5: conv5_3).
    unit_layer = 'conv5_3'

    def __init__(self, width=1, outputs=len(TRAITS), input_size=INPUT_SIZE):
        super().__init__()
        with self.init_scope():
            self.vgg = VGG16Backbone(width)
        #: Length of the FC input.
        self.feature_size = self.pooled_vectors * self.vgg.channels
        with self.init_scope():
            self.fc = L.Linear(self.feature_size, outputs,
                               initialW=chainer.initializers.Normal(
                                   FC_INIT_SCALE), initial_bias=0)
        self.add_persistent('mean', numpy.asarray(VGG_FACE_MEAN,
                                                  numpy.float32))
        # Saved with the weights: a trained model resizes as in training.
        self.add_persistent('input_size', int(input_size or 0))

    @property
    def width(self):
        return self.vgg.width

    def prepare(self, frames):
        """``(N, 3, H, W)`` RGB 0-255, resized (bilinear) to
        ``input_size`` squared unless it is 0, minus the mean colour."""
        size = int(self.input_size)
        frames = getattr(frames, 'array', frames)
        if size and frames.shape[2:] != (size, size):
            xp = self.xp
            Ry = xp.asarray(bilinear_matrix(frames.shape[2], size))
            Rx = xp.asarray(bilinear_matrix(frames.shape[3], size))
            frames = xp.tensordot(xp.tensordot(frames, Rx, ([3], [1])),
                                  Ry, ([2], [1])).transpose(0, 1, 3, 2)
        mean = self.xp.asarray(self.mean).reshape(1, 3, 1, 1)
        return frames - mean

    def logits(self, frames):
        """``(N, 3, H, W)`` float32 RGB 0-255 -> ``(N, 5)`` FC outputs."""
        return self.fc(self.features(frames))

    def forward(self, audio, frames):
        """``(N, 5)`` traits in [0, 1] (sigmoid), TRAITS order; ``audio``
        is ignored (the papers' visual model)."""
        return F.sigmoid(self.logits(frames))

    # -- whole-clip interface (deep_impression.inference.clip) --------------

    frame_batch = FRAME_BATCH

    def _infer(self, function, *arrays):
        with chainer.using_config('train', False), \
                chainer.using_config('enable_backprop', False):
            y = function(*[self.device.send(a) for a in arrays])
        return numpy.asarray(chainer.backend.CpuDevice().send(y.array))

    def audio_features(self, audio):
        """No auditory features: ``(0,)`` float32."""
        return numpy.zeros(0, numpy.float32)

    def frame_features(self, frames):
        """``(N, H, W, 3)`` uint8 RGB -> ``(N, feature_size)`` float32 FC
        inputs (test mode)."""
        return self._infer(self.features, inputs.frames_to_nchw(
            inputs.check_frames(frames)))

    def fuse_features(self, audio_features, visual_features):
        """``(B, feature_size)`` mean FC inputs -> ``(B, 5)`` traits (the
        audio features, empty, are ignored)."""
        return self._infer(lambda v: F.sigmoid(self.fc(v)),
                           numpy.ascontiguousarray(visual_features,
                                                   dtype=numpy.float32))

    def predict(self, audio, frames, on_frames=None):
        """Traits of a clip from its frames: ``(5,)`` float32 in [0, 1]
        (``frames``: ``(T, H, W, 3)`` uint8 or an iterable of chunks)."""
        from deep_impression.inference import clip
        return clip.predict_clip(self, audio, frames, on_frames)


class DANPlus(VisualRegressor):
    """DAN+ (Zhang et al. 2016; Ventura et al. 2017, Figure 3.a).

    Args:
        width: divisor of the backbone's channels (1: VGG-16).
        outputs: units of ``fc`` (five traits).
        input_size: side every frame is resized to (224: the papers'; 0:
            as given).
    """

    #: pool5 max and average, relu5_2 average and max.
    pooled_vectors = 4

    def features(self, frames):
        """``(N, 3, H, W)`` RGB 0-255 -> ``(N, 4 C)``: L2-normalised global
        max and average of pool5, then of relu5_2 (the winners' order)."""
        picked = self.vgg.extract(self.prepare(frames), ['conv5_2', 'pool5'])
        relu5_2, pool5 = picked['conv5_2'], picked['pool5']
        parts = [F.max(pool5, axis=(2, 3)), F.mean(pool5, axis=(2, 3)),
                 F.mean(relu5_2, axis=(2, 3)), F.max(relu5_2, axis=(2, 3))]
        return F.concat([l2_normalize(p) for p in parts], axis=1)


class CAMDANPlus(VisualRegressor):
    """CAM-DAN+ (Ventura et al. 2017, Figure 3.b).

    Args:
        width: divisor of the backbone's channels (1: VGG-16).
        outputs: units of ``fc`` (five traits).
        input_size: as :class:`DANPlus`.
        cam_layer: the maps pooled and weighed, ``'conv5_3'`` (default) or
            ``'pool5'`` (see the module's note).
    """

    def __init__(self, width=1, outputs=len(TRAITS), input_size=INPUT_SIZE,
                 cam_layer='conv5_3'):
        if cam_layer not in CAM_LAYERS:
            raise ValueError('cam_layer must be one of {}, got {!r}'.format(
                CAM_LAYERS, cam_layer))
        self.cam_layer = cam_layer
        super().__init__(width, outputs, input_size)

    def maps(self, frames):
        """``(N, 3, H, W)`` RGB 0-255 -> ``(N, C, h, w)``: the maps of
        :attr:`cam_layer` (``unit_i(x, y)`` of eq. (1))."""
        return self.vgg.extract(self.prepare(frames),
                                [self.cam_layer])[self.cam_layer]

    def features(self, frames):
        """``(N, C)``: each map averaged over its positions (GAP)."""
        return F.mean(self.maps(frames), axis=(2, 3))


def set_mean(model, frames):
    """Set ``model.mean`` to the mean colour of ``frames`` (``(N, H, W, 3)``
    uint8 RGB, or an iterable of such arrays), as the winners subtract their
    training set's average image. Returns the mean (3,) float32."""
    total, count = numpy.zeros(3), 0
    for chunk in ([frames] if isinstance(frames, numpy.ndarray) else frames):
        chunk = numpy.asarray(chunk)
        total += chunk.reshape(-1, 3).sum(axis=0, dtype=numpy.float64)
        count += chunk.reshape(-1, 3).shape[0]
    if count == 0:
        raise ValueError('no frames to take the mean of')
    mean = (total / count).astype(numpy.float32)
    model.mean = model.xp.asarray(mean) if hasattr(model, 'xp') else mean
    return mean
