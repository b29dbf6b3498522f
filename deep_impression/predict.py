"""Traits of a whole video file: decode with ffmpeg, then ``model.predict``."""

from deep_impression import media


def predict_video(path, model):
    """Predict the five traits of the person in a video file.

    Decodes the file with the bundled ffmpeg into 16 kHz mono audio and
    456x256 RGB frames at 25 frames/s, streams the frames through the model
    in chunks and returns ``model.predict``'s answer.

    Args:
        path: any video file ffmpeg reads, with an audio track.
        model: a loaded :class:`~deep_impression.model.AudiovisualNetwork`.

    Returns:
        float32 array of shape ``(5,)`` in :data:`~deep_impression.TRAITS`
        order.

    Raises:
        MediaError: missing or unreadable file, no audio track, under 1 s of
            audio, or no decodable frame.
    """
    audio = media.load_clip_audio(path)
    return model.predict(audio, media.iter_frames(path))
