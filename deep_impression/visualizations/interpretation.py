"""Pictures of the interpretation results (matplotlib, Agg, no display).

Every figure is written by :func:`deep_impression.visualizations.save_figure`.
"""

import os

import numpy
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from deep_impression.constants import TRAITS
from deep_impression.visualizations import save_figure  # noqa: F401

#: Colormap of activation maps (red = strong support, as the paper's).
CMAP = 'jet'


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


#: Log-mel spectrogram of the figures: 32-ms windows (512 samples at
#: 16 kHz), 10-ms hop, 64 mel bands up to the Nyquist frequency (8 kHz).
MEL = dict(n_fft=512, hop_length=160, n_mels=64)


def log_mel_spectrogram(audio, sample_rate=None, n_fft=MEL['n_fft'],
                        hop_length=MEL['hop_length'], n_mels=MEL['n_mels'],
                        top_db=80.0):
    """Log-mel power spectrogram of a clip's audio (librosa).

    Args:
        audio: 1-D float samples.
        sample_rate: Hz (default 16 kHz, the network's rate).
        n_fft, hop_length: Hann window and hop, in samples; frames are
            centred (the signal is padded by ``n_fft // 2`` at both ends),
            so frame ``j`` is at ``j * hop_length / sample_rate`` seconds.
        n_mels: mel bands (Slaney's mel scale, area-normalised filters),
            from 0 Hz to ``sample_rate / 2``.
        top_db: floor, in dB below the loudest value.

    Returns:
        ``(n_mels, 1 + len(audio) // hop_length)`` float32 array in dB
        relative to its maximum (0 at the loudest, down to ``-top_db``).
    """
    import librosa
    from deep_impression.constants import SAMPLE_RATE
    sample_rate = sample_rate or SAMPLE_RATE
    power = librosa.feature.melspectrogram(
        y=numpy.asarray(audio, dtype=numpy.float32), sr=sample_rate,
        n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, power=2.0,
        window='hann', center=True, pad_mode='constant')
    return librosa.power_to_db(power, ref=numpy.max,
                               top_db=top_db).astype(numpy.float32)


def _plot_spectrogram(ax, e, seconds):
    from deep_impression.constants import SAMPLE_RATE
    spec = log_mel_spectrogram(e.audio)
    ax.imshow(spec, origin='lower', aspect='auto', cmap='magma',
              extent=(0, spec.shape[1] * MEL['hop_length'] / SAMPLE_RATE,
                      0, spec.shape[0]), interpolation='nearest')
    ax.set_xlim(0, seconds)
    ax.set_yticks([0, spec.shape[0]])
    ax.set_yticklabels(['0', '{:g}k'.format(SAMPLE_RATE / 2000)], fontsize=7)
    ax.set_ylabel('log-mel\n(Hz)', fontsize=7)


def draw_audio_map(ax, audio_map, seconds):
    """The auditory activation map (a row per trait, each on its own
    colour scale, as the frame overlays) over ``[0, seconds]``."""
    times = audio_map.times
    if not len(times):   # CAM-DAN+: a network of frames only
        ax.text(0.5, 0.5, 'no auditory stream (the network sees frames '
                'only)', ha='center', va='center', fontsize=7,
                transform=ax.transAxes)
        ax.set_yticks([])
        return
    half = (times[1] - times[0]) / 2 if len(times) > 1 else 0.5
    cam = audio_map.cam.astype(numpy.float64)
    lo, hi = cam.min(axis=1, keepdims=True), cam.max(axis=1, keepdims=True)
    ax.imshow((cam - lo) / numpy.maximum(hi - lo, 1e-12), aspect='auto',
              cmap=CMAP,
              extent=(times[0] - half, times[-1] + half,
                      len(TRAITS) - 0.5, -0.5), interpolation='nearest')
    ax.set_xlim(0, seconds)
    ax.set_yticks(range(len(TRAITS)))
    ax.set_yticklabels(TRAITS, fontsize=7)


def trait_ranges(cams):
    """Per trait ``(min, max)`` over all the given maps ``(K, 5, h, w)``: one
    colour scale per trait, so frames of a clip compare."""
    return [(float(cams[:, t].min()), float(cams[:, t].max()))
            for t in range(cams.shape[1])]


def _plot_audio(ax_wave, ax_map, e, ax_spec):
    """Waveform, the auditory activation map under it and the log-mel
    spectrogram under that, on one time axis."""
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
    seconds = t[-1] if len(t) else 1
    draw_audio_map(ax_map, e.audio_map, seconds)
    ax_map.set_xticks([])
    _plot_spectrogram(ax_spec, e, seconds)
    ax_spec.set_xlabel('time (s); red lines: sampled frames; audio map rows '
                       'scaled per trait')


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
    fig = Figure(figsize=(1.2 + cell_w * K, cell_h * len(TRAITS) + 3.6))
    grid = fig.add_gridspec(len(TRAITS) + 3, K,
                            height_ratios=([cell_h] * len(TRAITS) +
                                           [0.9, 1.1, 1.0]),
                            hspace=0.35, wspace=0.05, top=0.94,
                            bottom=0.05, left=0.08, right=0.98)
    ranges = trait_ranges(e.cams)
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
                fig.add_subplot(grid[len(TRAITS) + 1, :]), e,
                fig.add_subplot(grid[len(TRAITS) + 2, :]))
    fig.suptitle('{}: class activation maps (left: trait, clip prediction '
                 'from the sampled frames; above each frame: its own '
                 'prediction)'.format(os.path.basename(e.video)), fontsize=9)
    return save_figure(fig, path)


def trait_strip(e, t, path):
    """The K overlays of one trait side by side, full resolution."""
    lo, hi = trait_ranges(e.cams)[t]
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
    """The waveform, the auditory activation map under it and the log-mel
    spectrogram under that."""
    fig = Figure(figsize=(10, 5))
    grid = fig.add_gridspec(3, 1, height_ratios=[1, 1.2, 1.2], hspace=0.1)
    _plot_audio(fig.add_subplot(grid[0]), fig.add_subplot(grid[1]), e,
                fig.add_subplot(grid[2]))
    return save_figure(fig, path)


def explanation_figures(e, folder, stem, video=False):
    """Every picture of one explanation, as ``deep-impression explain``
    writes them: ``<stem>_contact_sheet.png``, ``<stem>_<trait>.png`` for
    each trait, ``<stem>_audio.png`` and, with ``video``, ``<stem>.mp4``
    (:func:`~deep_impression.visualizations.video.explanation_video`).

    Args:
        e: an :class:`~deep_impression.interpret.cam.Explanation`.
        folder: an existing folder.
        stem: the start of each file name.

    Returns:
        dict of paths, in writing order: ``'sheet'``, each trait's name,
        ``'audio'`` (when there is an auditory map) and (with ``video``)
        ``'video'``.
    """
    out = lambda suffix: os.path.join(folder, stem + suffix)  # noqa: E731
    paths = dict(sheet=contact_sheet(e, out('_contact_sheet.png')))
    for t, name in enumerate(TRAITS):
        paths[name] = trait_strip(e, t, out('_{}.png'.format(name)))
    if e.audio_map.cam.shape[1]:   # a visual-only network has no audio map
        paths['audio'] = audio_figure(e, out('_audio.png'))
    if video:
        from deep_impression.visualizations.video import explanation_video
        paths['video'] = explanation_video(e, out('.mp4'))
    return paths


def draw_box(ax, box, color='lime', lw=1.5, ls='-'):
    """Draw ``(x0, y0, x1, y1)`` on an axis."""
    x0, y0, x1, y1 = box
    ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0,
                           fill=False, edgecolor=color, lw=lw, ls=ls))


# -- units (paper §4.4) -------------------------------------------------------

#: Colours of the face regions, as the paper's Figure 8.
REGION_COLOURS = {'eyebrows': 'orange', 'eyes': 'tab:blue', 'nose': 'red',
                  'mouth': 'purple'}


def _unit_frame(ax, frame, layer, flat, grid, title=None, responses=None):
    """A frame with a unit's receptive field (dashed, clipped; outside
    darkened) and its grid cell (solid) marked at position ``flat``."""
    from deep_impression.interpret.fields import field_box
    from deep_impression.interpret.units import layer_field
    field = layer_field(responses, layer)
    H, W = frame.shape[:2]
    y, x = divmod(int(flat), grid[1])
    x0, y0, x1, y1 = field_box(field, y, x, H, W)
    shown = frame.astype(numpy.float64) * 0.35
    xs, ys = int(numpy.floor(max(x0, 0))), int(numpy.floor(max(y0, 0)))
    shown[ys:int(numpy.ceil(y1)), xs:int(numpy.ceil(x1))] = \
        frame[ys:int(numpy.ceil(y1)), xs:int(numpy.ceil(x1))]
    ax.imshow(shown.astype(numpy.uint8))
    if x0 > 0 or y0 > 0 or x1 < W or y1 < H:   # not the whole frame
        draw_box(ax, (x0, y0, x1, y1), color='yellow', lw=0.8, ls='--')
    cy = field.start[0] + y * field.jump[0]
    cx = field.start[1] + x * field.jump[1]
    j = field.jump
    draw_box(ax, (cx - j[1] / 2, cy - j[0] / 2, cx + j[1] / 2,
                  cy + j[0] / 2), color='red', lw=1.2)
    ax.set_xlim(-0.5, W - 0.5)
    ax.set_ylim(H - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=6, pad=1)


def unit_frames_figure(source, responses, analysis, layer, units, path,
                       n=10):
    """Paper Figure 7: per unit (row), its ``n`` top frames with the
    receptive field (dashed, outside darkened) and the grid cell (red) of
    the unit's maximum."""
    top = analysis['layers'][layer]['top']
    n = min(n, top.shape[1])
    H, W = responses.frame_size
    fig = Figure(figsize=(0.9 + 1.3 * n, 0.6 + 1.3 * len(units) * H / W))
    grid = fig.add_gridspec(len(units), n, hspace=0.25, wspace=0.04,
                            top=0.93, bottom=0.01, left=0.07, right=0.995)
    for row, u in enumerate(units):
        for col in range(n):
            r = top[u, col]
            frame = source.frames(responses.clip_ids[r],
                                  [responses.frame_indices[r]])[0]
            ax = fig.add_subplot(grid[row, col])
            _unit_frame(ax, frame, layer, responses.argmax[layer][r, u],
                        responses.grids[layer],
                        '{:.2g}'.format(responses.maxima[layer][r, u]),
                        responses)
            if col == 0:
                ax.set_ylabel('unit {}'.format(u), fontsize=7)
    fig.suptitle('{}: top frames per unit (response above; red: the unit\'s '
                 'cell, dashed: its receptive field)'.format(layer),
                 fontsize=8)
    return save_figure(fig, path)


def layer_histograms_figure(analysis, path):
    """Paper Figure 10: per layer, where its units' top-N maxima lie,
    summed over units and pooled to 14x14."""
    layers = list(analysis['layers'])
    cols = min(5, len(layers))
    rows = (len(layers) + cols - 1) // cols
    fig = Figure(figsize=(2.3 * cols, 2.4 * rows + 0.4))
    for i, layer in enumerate(layers):
        ax = fig.add_subplot(rows, cols, i + 1)
        hist = analysis['layers'][layer]['layer_histogram']
        ax.imshow(hist, cmap=CMAP, interpolation='nearest')
        ax.set_title(layer, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle('Spatial histograms of the units\' maxima over their top {} '
                 'frames (14x14)'.format(analysis['top']), fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def face_regions_figure(source, responses, analysis, layer, path, n_units=5):
    """Paper Figures 8-9: the average frame with the region masks, and per
    region the ``n_units`` best units (each shown on its top frame, with
    ``N'``: how many of its top-N maxima fall in the region)."""
    masks = analysis['masks']
    names = list(masks)
    H, W = responses.frame_size
    fig = Figure(figsize=(2.2 + 1.6 * n_units, 0.6 + 1.6 * len(names) * H / W))
    grid = fig.add_gridspec(len(names), n_units + 1, hspace=0.3,
                            wspace=0.05, top=0.9, bottom=0.01, left=0.01,
                            right=0.99)
    ax = fig.add_subplot(grid[:, 0])
    mean = numpy.clip(responses.mean_frame, 0, 255).astype(numpy.uint8)
    ax.imshow(mean)
    size = next(iter(masks.values())).shape[0]
    for name, m in masks.items():
        colour = REGION_COLOURS.get(name, 'white')
        for cy, cx in zip(*numpy.nonzero(m)):
            ax.add_patch(Rectangle((cx * W / size - 0.5, cy * H / size - 0.5),
                                   W / size, H / size, facecolor=colour,
                                   alpha=0.45, edgecolor='none'))
    for k in range(1, size):
        ax.axhline(k * H / size - 0.5, color='white', lw=0.3)
        ax.axvline(k * W / size - 0.5, color='white', lw=0.3)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title('average frame, regions', fontsize=7)
    ranking = analysis['layers'][layer]['ranking']
    top = analysis['layers'][layer]['top']
    for row, name in enumerate(names):
        units, counts = ranking[name]
        for col in range(min(n_units, len(units))):
            u = units[col]
            r = top[u, 0]
            frame = source.frames(responses.clip_ids[r],
                                  [responses.frame_indices[r]])[0]
            ax = fig.add_subplot(grid[row, col + 1])
            _unit_frame(ax, frame, layer, responses.argmax[layer][r, u],
                        responses.grids[layer],
                        "{} unit {}: N'={:.0f}".format(name, u, counts[col]),
                        responses)
    fig.suptitle('{}: best units per face region (of their top {} frames, '
                 "N' have their maximum in the region)".format(
                     layer, analysis['top']), fontsize=8)
    return save_figure(fig, path)


# -- action units (paper §4.5) -----------------------------------------------

def au_correlation_figure(r, p, path, alpha=0.05):
    """Heat map of AU x trait Pearson correlations; ``*`` marks p < alpha."""
    from deep_impression.interpret.openface import AUS, AU_NAMES
    fig = Figure(figsize=(6.5, 7))
    ax = fig.add_subplot(1, 1, 1)
    lim = max(float(numpy.nanmax(numpy.abs(r))) if numpy.isfinite(r).any()
              else 1.0, 1e-6)
    im = ax.imshow(r, cmap='RdBu_r', vmin=-lim, vmax=lim, aspect='auto')
    for i in range(r.shape[0]):
        for j in range(r.shape[1]):
            if numpy.isfinite(r[i, j]):
                ax.text(j, i, '{:.2f}{}'.format(
                    r[i, j], '*' if p[i, j] < alpha else ''),
                    ha='center', va='center', fontsize=7)
    ax.set_xticks(range(len(TRAITS)))
    ax.set_xticklabels(TRAITS, rotation=30, ha='right', fontsize=8)
    ax.set_yticks(range(len(AUS)))
    ax.set_yticklabels(['{} {}'.format(a, AU_NAMES[a]) for a in AUS],
                       fontsize=7)
    fig.colorbar(im, ax=ax, label='Pearson r')
    ax.set_title('Action units and traits (* p < {:g})'.format(alpha),
                 fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def au_units_figure(matches, path, paper=None):
    """Bars of ``k`` (shared top frames) of each AU's best unit, with its
    p-value; the paper's Table 2 ``k`` as dots when given."""
    fig = Figure(figsize=(8, 3.5))
    ax = fig.add_subplot(1, 1, 1)
    x = numpy.arange(len(matches))
    ks = [m['k'] for m in matches]
    ax.bar(x, ks, color=['tab:red' if m['p'] < 0.05 else 'tab:gray'
                         for m in matches])
    for i, m in enumerate(matches):
        ax.text(i, m['k'] + 0.1, 'u{}\np={:.2g}'.format(m['unit'], m['p']),
                ha='center', va='bottom', fontsize=5.5)
    if paper:
        ax.plot(x, [paper[m['au']][1] for m in matches], 'k.',
                label='paper, Table 2 (of 50)')
        ax.legend(fontsize=7)
    ax.set_xticks(x)
    ax.set_xticklabels([m['au'] for m in matches], fontsize=7)
    n = matches[0]['n'] if matches else 0
    ax.set_ylabel('shared top frames (of {})'.format(n))
    ax.set_ylim(0, max(ks + [1]) * 1.35)
    ax.set_title('Best unit per AU (red: p < 0.05)', fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def overlap_top_frames_figure(scores, result, source, path, columns=8):
    """Rows of traits, columns of each trait's top frames: the map over the
    frame, the face box (green) and the ``M_CAM`` outline (white)."""
    from deep_impression.interpret.overlap import cam_mask
    H, W = scores.frame_size
    columns = max(1, min(columns, result['top']))
    fig = Figure(figsize=(1.0 + 2.0 * columns, 1.4 + 5 * 2.0 * H / W + 1.0))
    grid = fig.add_gridspec(len(TRAITS), columns, hspace=0.35, wspace=0.05,
                            top=0.92, bottom=0.02, left=0.08, right=0.99)
    for t, name in enumerate(TRAITS):
        for k, item in enumerate(
                result['traits'][name]['top_frames'][:columns]):
            r = item['row']
            frame = source.frames(item['clip'], [item['frame']])[0]
            ax = fig.add_subplot(grid[t, k])
            ax.imshow(overlay(frame, scores.cams[r, t]))
            ax.contour(cam_mask(scores.cams[r, t], H, W,
                                result['threshold']).astype(float),
                       levels=[0.5], colors='white', linewidths=0.8)
            if numpy.isfinite(scores.boxes[r, 0]):
                draw_box(ax, scores.boxes[r])
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title('{:.3f} / {}'.format(
                item['prediction'], '-' if item['overlap'] is None
                else '{:.2f}'.format(item['overlap'])), fontsize=7, pad=2)
            if k == 0:
                ax.set_ylabel(name, fontsize=8)
    fig.suptitle('Top frames per trait (prediction / overlap); green: face '
                 'box, white: M_CAM', fontsize=9)
    return save_figure(fig, path)
