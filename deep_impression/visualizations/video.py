"""An MP4 of an explanation: per-trait activation maps over time, and the
auditory map as a bar with a moving cursor (``explain --video``).

Frames are drawn with matplotlib (Agg) and encoded as H.264 by the ffmpeg
binary that ``imageio-ffmpeg`` ships; the file is written atomically.
"""

import math

import numpy
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from deep_impression import fileio
from deep_impression.constants import FPS, SAMPLE_RATE, TRAITS
from deep_impression.visualizations.interpretation import (
    draw_audio_map, overlay, trait_ranges)

#: Frame size of the MP4 in pixels (a multiple of 16, as H.264 wants).
SIZE = (960, 640)

#: Frames per second of the MP4. Only the sampled frames have maps, so the
#: picture changes K times per clip; the cursor moves every frame.
VIDEO_FPS = 5


def video_frame_count(seconds, fps=VIDEO_FPS):
    """Frames :func:`explanation_video` writes for a clip of ``seconds``."""
    return max(1, int(math.ceil(seconds * fps - 1e-9)))


class _Layout(object):
    """One figure, redrawn for each frame: six tiles (the five traits'
    overlays and the plain frame) above the auditory map and its cursor."""

    def __init__(self, e, seconds):
        self.e = e
        self.ranges = trait_ranges(e.cams)
        self.fig = Figure(figsize=(SIZE[0] / 100, SIZE[1] / 100), dpi=100)
        self.canvas = FigureCanvasAgg(self.fig)
        grid = self.fig.add_gridspec(3, 3, height_ratios=[1, 1, 0.55],
                                     left=0.14, right=0.99, top=0.95,
                                     bottom=0.08, hspace=0.3, wspace=0.04)
        self.tiles = []
        for i in range(len(TRAITS) + 1):
            ax = self.fig.add_subplot(grid[i // 3, i % 3])
            ax.set_xticks([])
            ax.set_yticks([])
            self.tiles.append((ax, ax.imshow(e.frames[0])))
        ax = self.fig.add_subplot(grid[2, :])
        draw_audio_map(ax, e.audio_map, seconds)
        ax.set_xlabel('time (s): auditory activation map, rows scaled per '
                      'trait', fontsize=8)
        self.cursor = ax.axvline(0, color='white', lw=2)
        self.shown = None

    def show(self, k, time):
        """Draw sampled frame ``k`` with the cursor at ``time`` seconds;
        returns ``(H, W, 3)`` uint8 RGB."""
        e = self.e
        if k != self.shown:
            for t, name in enumerate(TRAITS):
                ax, image = self.tiles[t]
                image.set_data(overlay(e.frames[k], e.cams[k, t],
                                       *self.ranges[t]))
                ax.set_title('{} {:.3f} (frame {:.3f})'.format(
                    name, e.traits[t], e.frame_traits[k, t]), fontsize=8)
            ax, image = self.tiles[-1]
            image.set_data(e.frames[k])
            ax.set_title('frame {} ({:.2f} s)'.format(
                e.frame_indices[k], e.frame_indices[k] / FPS), fontsize=8)
            self.shown = k
        self.cursor.set_xdata([time, time])
        self.canvas.draw()
        return numpy.asarray(self.canvas.buffer_rgba())[..., :3]


def explanation_video(e, path, fps=VIDEO_FPS):
    """Write an explanation as an MP4 (H.264, :data:`SIZE`, ``fps``).

    At each moment the video shows the sampled frame nearest in time, with
    each trait's activation map over it (one colour scale per trait for the
    whole clip, as the contact sheet), and a cursor moving along the
    auditory activation map. It lasts as long as the clip's audio.

    Args:
        e: an :class:`~deep_impression.interpret.cam.Explanation`.
        path: output ``.mp4`` file.

    Returns:
        ``path``.
    """
    import imageio_ffmpeg
    seconds = len(e.audio) / SAMPLE_RATE
    frame_times = numpy.asarray(e.frame_indices, dtype=numpy.float64) / FPS
    layout = _Layout(e, seconds)
    with fileio.atomic_path(path, suffix='.mp4') as tmp:
        writer = imageio_ffmpeg.write_frames(
            tmp, SIZE, fps=fps, codec='libx264', pix_fmt_in='rgb24',
            pix_fmt_out='yuv420p', macro_block_size=16,
            ffmpeg_log_level='error', ffmpeg_timeout=120)
        writer.send(None)
        try:
            for j in range(video_frame_count(seconds, fps)):
                time = j / fps
                k = int(numpy.abs(frame_times - time).argmin())
                writer.send(numpy.ascontiguousarray(layout.show(k, time)))
        finally:
            writer.close()
    return path
