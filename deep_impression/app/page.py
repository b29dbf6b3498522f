"""The web page of ``deep-impression app``, built with Gradio.

Three tabs: one video (upload or a path: traits, provenance, the
``explain`` figures and overlay video), a folder (the resumable batch of
``predict --output``, as a sortable table and a CSV) and the model card.
Every request that fails shows the command line's one-line message in the
page; the server goes on.

Gradio is imported here only (the optional ``app`` extra). Its usage
analytics are switched off before the import, the page loads no web fonts
(nothing leaves the machine) and it is served on 127.0.0.1 unless asked
otherwise; no share link is ever made.
"""

import html
import os

# Before gradio is imported: it reads these when it loads.
os.environ['GRADIO_ANALYTICS_ENABLED'] = 'False'
os.environ['HF_HUB_DISABLE_TELEMETRY'] = '1'

import gradio as gr  # noqa: E402

from deep_impression.constants import TRAIT_MEANINGS, TRAITS  # noqa: E402
from deep_impression.errors import DeepImpressionError  # noqa: E402

TITLE = 'deep-impression: apparent Big Five traits from video'

#: What the five numbers are and are not, always in view (the full card
#: is the third tab).
NOTICE = (
    '<div class="di-notice"><b>Impressions, not personality.</b> The five '
    'numbers predict the first impression that strangers formed of the '
    'person from a short clip, scaled to [0, 1]. They are not the '
    'person\'s personality. <b>Do not use them to decide anything about a '
    'person.</b></div>')

MODEL_CARD = """\
### What the numbers are
Each number is an *apparent* trait: a prediction of the impression that
crowd workers formed of a stranger from a 15-second clip, on a scale from 0
to 1. The network (Güçlütürk et al. 2016, *Deep Impression*) learned them
from the ChaLearn First Impressions data: 10,000 clips of English-speaking
YouTube video bloggers talking to their camera. The numbers are not anyone's
personality, not a self-report and not a psychologist's assessment. The
paper's accuracy (1 - mean absolute error, 0.9109 on the test set) measures
how close the network comes to the raters' average impression, nothing
more.

### Known limits and biases
The clips are people who chose to film themselves, not a sample of any
population. Age, accent, skin colour, gender presentation, camera, light and
language outside that range are poorly covered, and no one has measured how
wrong the predictions are there. First impressions carry the raters'
stereotypes (attractive faces and smiles are judged more favourably), and a
network that learns to reproduce them reproduces their biases. Ventura et
al. (2017) found that its evidence lies mostly in the face: the activation
maps on the first tab show where.

### Not for decisions about people
Not in hiring, admission, credit, insurance, housing, policing, or any other
decision that affects someone. This is a research tool for studying first
impressions and how networks model them. Clips unlike the training data
(other lengths, languages, settings, several people) are outside what was
evaluated.
"""

#: The page's own styling: trait bars, the error line, the notice.
CSS = """
.di-traits {width: 100%; border-collapse: collapse;}
.di-traits td {padding: 4px 6px; vertical-align: middle; border: none;}
.di-name {font-weight: 600; white-space: nowrap;}
.di-meaning {font-size: 0.85em; opacity: 0.75;}
.di-track {width: 100%; min-width: 120px; height: 14px;
           background: #e5e7eb; border-radius: 7px; position: relative;}
.di-fill {height: 14px; background: #4f46e5; border-radius: 7px;}
.di-value {font-family: ui-monospace, monospace; text-align: right;
           white-space: nowrap;}
.di-axis {font-size: 0.75em; opacity: 0.6;}
.di-error {color: #b91c1c; font-weight: 600; padding: 6px 0;}
.di-status {padding: 6px 0;}
.di-warning {color: #b45309; padding: 2px 0;}
.di-facts {width: 100%; border-collapse: collapse; font-size: 0.9em;
            margin-top: 8px;}
.di-facts th, .di-facts td {padding: 3px 6px; border: none;
                            border-top: 1px solid #e5e7eb; text-align: left;}
.di-facts th {font-weight: normal; opacity: 0.75; width: 35%;}
.di-traits tr {border: none;}
.di-notice {border-left: 4px solid #d97706; padding-left: 10px;}
"""

#: Fonts on the machine only: Gradio's themes otherwise ask Google Fonts.
FONTS = dict(font=['ui-sans-serif', 'system-ui', 'sans-serif'],
             font_mono=['ui-monospace', 'monospace'])


def error_html(message):
    """The one-line message of a failed request, as the page shows it."""
    return '<div class="di-error">error: {}</div>'.format(
        html.escape(message))


def status_html(message, warnings=()):
    """A request's progress line, and its warnings (a damaged file, a
    picture far from 16:9), one line each."""
    return '<div class="di-status">{}</div>{}'.format(
        html.escape(message), ''.join(
            '<div class="di-warning">warning: {}</div>'.format(
                html.escape(w)) for w in warnings))


def traits_html(traits):
    """The five traits as labelled bars on [0, 1], each value with six
    decimals (as ``predict``'s CSV)."""
    rows = []
    for name, meaning, value in zip(TRAITS, TRAIT_MEANINGS, traits):
        value = float(value)
        rows.append(
            '<tr class="di-trait" data-trait="{name}">'
            '<td><div class="di-name">{name}</div>'
            '<div class="di-meaning">{meaning}</div></td>'
            '<td style="width: 45%"><div class="di-track">'
            '<div class="di-fill" style="width: {pct:.1f}%"></div></div>'
            '</td><td class="di-value">{value:.6f}</td></tr>'.format(
                name=name, meaning=html.escape(meaning), value=value,
                pct=100 * min(max(value, 0.0), 1.0)))
    return ('<table class="di-traits">{}<tr><td></td><td class="di-axis">'
            '0 &larr; apparent trait &rarr; 1</td><td></td></tr></table>'
            .format(''.join(rows)))


def provenance_html(result, name):
    """Where the numbers come from: the provenance of ``predict``'s
    records, and how many frames the network ran."""
    r = result['record']
    release = ('yes, byte for byte the authors\' released file'
               if r['release_weights'] else 'no (other or trained weights)')
    rows = [('video', name),
            ('frames the network ran', '{} (every frame at {:g} frames/s; '
             'decoding {}, fit {})'.format(result['frames'], r['fps'],
                                          r['decode'], r['fit'])),
            ('weights SHA-256 (first digits)', r['weights_sha256']),
            ('the authors\' weights', release),
            ('backend', r['backend']),
            ('package version', r['version'])]
    return '<table class="di-facts">{}</table>'.format(''.join(
        '<tr><th>{}</th><td>{}</td></tr>'.format(html.escape(k),
                                                 html.escape(str(v)))
        for k, v in rows))


def one_line(error, path=None, name=None):
    """``str(error)``, the upload's temporary path replaced by its name."""
    text = str(error).splitlines()[0] if str(error) else repr(error)
    if path and name:
        text = text.replace(path, name)
    return text


#: The one-video outputs after the status line, all empty: bars,
#: provenance, contact sheet, audio figure, the five traits' strips,
#: overlay video.
NOTHING = ('', '', None, None) + (None,) * len(TRAITS) + (None,)


def _figure(elem_id, label=None):
    """A PNG of the explanation (no share button: nothing leaves the
    machine)."""
    return gr.Image(label=label, show_label=label is not None,
                    type='filepath', interactive=False,
                    buttons=['download', 'fullscreen'], elem_id=elem_id)


def build(session):
    """The page (a :class:`gradio.Blocks`) over a
    :class:`~deep_impression.app.session.Session`."""
    from deep_impression.inference.predict import frames_to_run

    def analyse(upload, typed, make_video, progress=gr.Progress()):
        """Traits first, then the explanation: a generator, so the page
        shows the numbers while the maps are being drawn."""
        path = upload or (typed or '').strip()
        name = os.path.basename(path) if upload else path
        if not path:
            yield (error_html('give a video: upload one or type its path'),
                   ) + NOTHING
            return
        total = frames_to_run(path)
        seen = [0]

        def on_frames(n):
            seen[0] += n
            progress((seen[0], total), desc='frames', unit='frames')
        try:
            progress(None, desc='loading the weights, predicting')
            result = session.predict_video(path, on_frames=on_frames)
        except DeepImpressionError as e:
            yield (error_html(one_line(e, path, name)),) + NOTHING
            return
        shown = (traits_html(result['traits']),
                 provenance_html(result, name))
        warnings = [one_line(w, path, name) for w in result['warnings']]
        yield ((status_html('{}: traits done; drawing the activation '
                            'maps...'.format(name), warnings),) + shown +
               NOTHING[2:])
        try:
            session.explain(path, result, video=make_video,
                            on_step=lambda text: progress(None, desc=text))
        except DeepImpressionError as e:
            # The traits stay: only the explanation failed.
            yield ((error_html(one_line(e, path, name)),) + shown +
                   NOTHING[2:])
            return
        note = result['note']
        figures = dict((caption, p) for caption, p in result['figures'])
        yield ((status_html('{}: done{}'.format(
                    name, '; ' + note if note else ''), warnings),) + shown +
               (figures.get('sheet'), figures.get('audio')) +
               tuple(figures.get(t) for t in TRAITS) + (result['video'],))

    def analyse_folder(folder, output, progress=gr.Progress()):
        folder = (folder or '').strip()
        output = (output or '').strip() or None

        def on_video(done, total):
            progress((done, total), desc='videos', unit='videos')
        try:
            result = session.analyse_folder(folder, output, on_video)
        except DeepImpressionError as e:
            return error_html(one_line(e)), None, None
        rows = [[os.path.relpath(r['video'], folder)] +
                [round(float(r[t]), 6) for t in TRAITS]
                for r in result['records']]
        lines = ['{} videos predicted, in {}'.format(len(rows),
                                                    result['csv'])]
        if result['skipped']:
            lines.append('{} of them were there already and skipped (same '
                         'weights and settings)'.format(result['skipped']))
        if result['errors']:
            lines.append('{} failed:'.format(len(result['errors'])))
        text = status_html('; '.join(lines))
        if result['errors']:
            text += ''.join(error_html(e) for e in result['errors'])
        table = gr.Dataframe(value=rows, headers=['video'] + list(TRAITS))
        return text, table, result['csv']

    with gr.Blocks(title=TITLE, analytics_enabled=False) as page:
        gr.Markdown('# ' + TITLE)
        gr.HTML(NOTICE)
        with gr.Tabs():
            with gr.Tab('One video', id='video'):
                with gr.Row():
                    with gr.Column(scale=1):
                        upload = gr.File(label='Video (with its sound)',
                                         type='filepath',
                                         elem_id='di-upload')
                        typed = gr.Textbox(
                            label='or a path on this machine',
                            placeholder='/path/to/clip.mp4',
                            elem_id='di-path')
                        make_video = gr.Checkbox(
                            value=True, label='overlay video of the maps '
                                              '(a few seconds more)')
                        run = gr.Button('Predict and explain',
                                        variant='primary', elem_id='di-run')
                    with gr.Column(scale=2):
                        status = gr.HTML(elem_id='di-status')
                        bars = gr.HTML(elem_id='di-traits')
                        facts = gr.HTML(elem_id='di-provenance')
                gr.Markdown(
                    '### What the network looked at\nClass activation maps '
                    '(Ventura et al. 2017): red marks the regions that '
                    'raised a trait\'s value, on frames sampled evenly over '
                    'the clip (one colour scale per trait); the auditory '
                    'map shows the same along time, over the sound\'s '
                    'spectrogram. The values in the figures use the sampled '
                    'frames only.')
                with gr.Row():
                    with gr.Column(scale=3):
                        gr.Markdown('**All traits** on the sampled frames '
                                    '(left: trait and clip value; above '
                                    'each frame: its own value), then the '
                                    'sound')
                        sheet = _figure('di-sheet')
                    with gr.Column(scale=2):
                        gr.Markdown('**Maps over time**: each trait\'s map '
                                    'on the nearest sampled frame; a cursor '
                                    'runs along the auditory map')
                        overlay = gr.Video(show_label=False,
                                           interactive=False,
                                           buttons=['download'],
                                           elem_id='di-video')
                        gr.Markdown('**The sound**: waveform, auditory map, '
                                    'spectrogram')
                        audio = _figure('di-audio')
                with gr.Accordion('each trait at full size', open=False,
                                  elem_id='di-strips'):
                    strips = [_figure('di-strip-' + t, label=t)
                              for t in TRAITS]
                run.click(analyse, [upload, typed, make_video],
                          [status, bars, facts, sheet, audio] + strips +
                          [overlay])
            with gr.Tab('A folder', id='folder'):
                gr.Markdown(
                    'Every video under a folder on this machine, as '
                    '`deep-impression predict FOLDER --output FILE.csv`: '
                    'a video already in the CSV (same weights and '
                    'settings) is skipped, so a stopped run picks up where '
                    'it was; every row carries its provenance.')
                with gr.Row():
                    folder = gr.Textbox(label='folder',
                                        placeholder='/path/to/videos',
                                        elem_id='di-folder')
                    output = gr.Textbox(
                        label='CSV (optional; default under the app\'s '
                              '--out folder)', elem_id='di-csv-path')
                run_folder = gr.Button('Predict every video',
                                       variant='primary',
                                       elem_id='di-run-folder')
                folder_status = gr.HTML(elem_id='di-folder-status')
                table = gr.Dataframe(headers=['video'] + list(TRAITS),
                                     interactive=False,
                                     elem_id='di-table')
                csv_file = gr.File(label='CSV', elem_id='di-csv')
                run_folder.click(analyse_folder, [folder, output],
                                 [folder_status, table, csv_file])
            with gr.Tab('Model card', id='card'):
                gr.Markdown(MODEL_CARD)
    return page


def serve(session, host='127.0.0.1', port=7860, max_upload_mb=500):
    """Build the page and serve it until interrupted."""
    page = build(session)
    # One request at a time: the model already uses every core.
    page.queue(default_concurrency_limit=1)
    try:
        page.launch(server_name=host, server_port=port, share=False,
                    max_file_size=int(max_upload_mb * 1e6),
                    allowed_paths=[os.path.abspath(session.out)],
                    ssr_mode=False, footer_links=[], show_error=False,
                    theme=gr.themes.Default(**FONTS), css=CSS)
    except OSError as e:
        # Gradio says so when the port is taken.
        raise DeepImpressionError('app: cannot serve on {}:{} ({})'.format(
            host, port, one_line(e))) from None
