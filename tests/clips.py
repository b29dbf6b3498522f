"""Small media files made with the bundled ffmpeg, for tests."""

import subprocess

from deep_impression.media import ffmpeg_exe


def make_clip(path, seconds=1.5, size=(160, 90), fps=30, audio=True,
              video=True, sample_rate=44100, tone=220):
    """Write an H.264 + AAC mp4 from ffmpeg's test sources."""
    cmd = [ffmpeg_exe(), '-v', 'error', '-y']
    if video:
        cmd += ['-f', 'lavfi', '-i', 'testsrc=size={}x{}:rate={}'.format(
            size[0], size[1], fps)]
    if audio:
        cmd += ['-f', 'lavfi', '-i', 'sine=frequency={}:sample_rate={}'.format(
            tone, sample_rate)]
    cmd += ['-t', str(seconds)]
    if video:
        cmd += ['-c:v', 'libx264', '-pix_fmt', 'yuv420p']
    if audio:
        cmd += ['-c:a', 'aac']
    cmd += [str(path)]
    subprocess.run(cmd, check=True)
    return str(path)
