"""Pictures of the interpretation results (matplotlib, Agg, no display).

Every figure is written atomically (temporary name beside the target, then
``os.replace``) so an interrupted run never leaves half a PNG.
"""

import os
import tempfile

import numpy
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from deep_impression.constants import TRAITS

#: Colormap of activation maps (red = strong support, as the paper's).
CMAP = 'jet'


def save_figure(fig, path, dpi=100):
    """Write a matplotlib figure to ``path`` (PNG) atomically."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.',
                               suffix='.tmp', dir=directory)
    try:
        with os.fdopen(fd, 'wb') as f:
            fig.savefig(f, format='png', dpi=dpi)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def write_text(text, path):
    """Write a text file atomically."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.',
                               suffix='.tmp', dir=directory)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def overlay(frame, cam, vmin=None, vmax=None, alpha=0.5):
    """Blend an activation map over a frame.

    Args:
        frame: ``(H, W, 3)`` uint8 RGB.
        cam: ``(h, w)`` map; bilinearly upsampled to the frame.
        vmin, vmax: colour range (default: the map's own range).
        alpha: weight of the heat map.

    Returns:
        ``(H, W, 3)`` uint8 RGB.
    """
    from deep_impression.interpret.cam import upsample
    H, W = frame.shape[:2]
    up = upsample(cam, H, W)
    lo = up.min() if vmin is None else vmin
    hi = up.max() if vmax is None else vmax
    norm = numpy.clip((up - lo) / max(hi - lo, 1e-12), 0, 1)
    heat = colormaps[CMAP](norm)[..., :3] * 255
    out = (1 - alpha) * frame.astype(numpy.float64) + alpha * heat
    return numpy.clip(numpy.round(out), 0, 255).astype(numpy.uint8)


def _trait_ranges(cams):
    """Per trait ``(min, max)`` over all the given maps ``(K, 5, h, w)``: one
    colour scale per trait, so frames of a clip compare."""
    return [(float(cams[:, t].min()), float(cams[:, t].max()))
            for t in range(cams.shape[1])]


def _plot_audio(ax_wave, ax_map, e):
    from deep_impression.constants import FPS, SAMPLE_RATE
    sr = SAMPLE_RATE
    t = numpy.arange(len(e.audio)) / sr
    step = max(1, len(e.audio) // 20000)
    ax_wave.plot(t[::step], e.audio[::step], lw=0.4, color='0.2')
    for i in e.frame_indices:
        ax_wave.axvline(i / FPS, color='tab:red', lw=0.6, alpha=0.6)
    ax_wave.set_xlim(0, t[-1] if len(t) else 1)
    ax_wave.set_ylim(-1, 1)
    ax_wave.set_ylabel('audio')
    ax_wave.set_xticks([])
    times = e.audio_map.times
    half = (times[1] - times[0]) / 2 if len(times) > 1 else 0.5
    ax_map.imshow(e.audio_map.cam, aspect='auto', cmap=CMAP,
                  extent=(times[0] - half, times[-1] + half,
                          len(TRAITS) - 0.5, -0.5), interpolation='nearest')
    ax_map.set_xlim(0, t[-1] if len(t) else 1)
    ax_map.set_yticks(range(len(TRAITS)))
    ax_map.set_yticklabels(TRAITS, fontsize=7)
    ax_map.set_xlabel('time (s); red lines: sampled frames')


def contact_sheet(e, path):
    """One PNG per video: rows of per-trait overlays on the K sampled frames
    (with each frame's prediction), then the waveform and the auditory
    activation map under it.

    Args:
        e: an :class:`~deep_impression.interpret.cam.Explanation`.
        path: output PNG.
    """
    K = len(e.frames)
    H, W = e.frames.shape[1:3]
    cell_w = 2.2
    cell_h = cell_w * H / W + 0.25
    fig = Figure(figsize=(1.2 + cell_w * K, cell_h * len(TRAITS) + 2.6))
    grid = fig.add_gridspec(len(TRAITS) + 2, K,
                            height_ratios=[cell_h] * len(TRAITS) + [0.9, 1.1],
                            hspace=0.35, wspace=0.05, top=0.94,
                            bottom=0.05, left=0.06, right=0.98)
    ranges = _trait_ranges(e.cams)
    for t, name in enumerate(TRAITS):
        for k in range(K):
            ax = fig.add_subplot(grid[t, k])
            ax.imshow(overlay(e.frames[k], e.cams[k, t], *ranges[t]))
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title('{:.3f}'.format(e.frame_traits[k, t]), fontsize=7,
                         pad=2)
            if k == 0:
                ax.set_ylabel('{}\n{:.3f}'.format(name, e.traits[t]),
                              fontsize=8)
            if t == 0:
                ax.set_xlabel('')
    _plot_audio(fig.add_subplot(grid[len(TRAITS), :]),
                fig.add_subplot(grid[len(TRAITS) + 1, :]), e)
    fig.suptitle('{}: class activation maps (left: trait, clip prediction '
                 'from the sampled frames; above each frame: its own '
                 'prediction)'.format(os.path.basename(e.video)), fontsize=9)
    return save_figure(fig, path)


def trait_strip(e, t, path):
    """The K overlays of one trait side by side, full resolution."""
    lo, hi = _trait_ranges(e.cams)[t]
    strip = numpy.concatenate([overlay(f, c, lo, hi)
                               for f, c in zip(e.frames, e.cams[:, t])],
                              axis=1)
    H, W = strip.shape[:2]
    fig = Figure(figsize=(W / 100, H / 100 + 0.3))
    ax = fig.add_axes((0, 0, 1, H / (H + 30)))
    ax.imshow(strip)
    ax.axis('off')
    fig.text(0.005, 0.99, '{} {:.3f}; frames {}'.format(
        TRAITS[t], e.traits[t], ', '.join(str(i) for i in e.frame_indices)),
        va='top', fontsize=8)
    return save_figure(fig, path)


def audio_figure(e, path):
    """The waveform with the auditory activation map under it."""
    fig = Figure(figsize=(10, 3.5))
    grid = fig.add_gridspec(2, 1, height_ratios=[1, 1.2], hspace=0.1)
    _plot_audio(fig.add_subplot(grid[0]), fig.add_subplot(grid[1]), e)
    return save_figure(fig, path)


def draw_box(ax, box, color='lime', lw=1.5, ls='-'):
    """Draw ``(x0, y0, x1, y1)`` on an axis."""
    x0, y0, x1, y1 = box
    ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0,
                           fill=False, edgecolor=color, lw=lw, ls=ls))
