"""`deep-impression app`: the work behind the page, and the page itself in
a real browser (headless Chromium driven by Selenium).

The browser test starts the app on a free loopback port in its own process
group, uploads a short clip, and checks what a person would see: the five
traits equal `predict`'s for the same file, the figures and the overlay
video load, a text file named .mp4 gets the one-line error. Budget: about
90 s on a quiet 2-core machine (the first request exports the weights to
ONNX). It is skipped, saying why, where Chromium, its driver, Selenium or
Gradio is missing; `.ci/run` installs Chromium so CI runs it.

Set DEEP_IMPRESSION_APP_SCREENSHOT=docs/_static/app.png to also write the
documentation's screenshot (reduced to stay small).
"""

import csv
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import numpy
import pytest

from deep_impression.cli import build_parser, main
from deep_impression.constants import TRAITS
from deep_impression.errors import DeepImpressionError

import clips
import reference

#: Set by .ci/run: a missing browser, driver or extra fails the test
#: instead of skipping it, so CI always runs it.
REQUIRED = bool(os.environ.get('DEEP_IMPRESSION_REQUIRE_BROWSER'))

CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
DRIVER = shutil.which('chromedriver')

#: The figures of the one-video tab, in the page.
FIGURES = '#di-sheet img, #di-audio img, #di-strips img'

#: Length of the test clip, in seconds.
CLIP_SECONDS = 1.6


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp('app')
    weights = reference.write_release_file(
        str(d / 'model'), reference.random_release_weights(seed=5))
    clip = clips.make_clip(d / 'person.mp4', seconds=CLIP_SECONDS,
                           size=(320, 180))
    fake = d / 'notes.mp4'
    fake.write_text('a text file with a video\'s name\n')
    return d, weights, clip, str(fake)


def _onnx_traits(weights, paths):
    """`predict --backend onnxruntime` for these files, as records."""
    from deep_impression.inference.backends import load_backend
    from deep_impression.inference.predict import predict_videos
    return predict_videos(paths, load_backend('onnxruntime', weights),
                          'onnxruntime')


# The work behind the page (no Gradio needed).

def test_folder_is_the_resumable_predict_batch(files, tmp_path):
    from deep_impression.app.session import Session
    d, weights, clip, fake = files
    folder = tmp_path / 'videos'
    (folder / 'sub').mkdir(parents=True)
    shutil.copy(clip, folder / 'a.mp4')
    shutil.copy(fake, folder / 'sub' / 'broken.mp4')
    session = Session(weights=weights, out=str(tmp_path / 'out'))
    calls = []
    first = session.analyse_folder(str(folder),
                                   on_video=lambda *a: calls.append(a))
    assert calls[-1] == (2, 2)
    assert len(first['errors']) == 1 and 'broken.mp4' in first['errors'][0]
    expected = _onnx_traits(weights, [str(folder / 'a.mp4')])[0]
    with open(first['csv'], newline='') as f:
        rows = list(csv.DictReader(f))
    assert [r['video'] for r in rows] == [str(folder / 'a.mp4')]
    numpy.testing.assert_allclose([float(rows[0][t]) for t in TRAITS],
                                  [expected[t] for t in TRAITS], atol=1e-6)
    assert rows[0]['backend'] == 'onnxruntime'
    assert rows[0]['weights_sha256'] == expected['weights_sha256']
    # A second run skips what the CSV holds and only retries the failure.
    again = session.analyse_folder(str(folder))
    assert again['skipped'] == 1 and len(again['records']) == 1


def test_bad_folders_and_files_are_one_line_errors(files, tmp_path):
    from deep_impression.app.session import Session
    d, weights, clip, fake = files
    session = Session(weights=weights, out=str(tmp_path / 'out'))
    (tmp_path / 'empty').mkdir()
    silent = clips.make_clip(tmp_path / 'silent.mp4', seconds=1.2,
                             audio=False)
    short = clips.make_clip(tmp_path / 'short.mp4', seconds=0.5)
    for call, name in [
            (lambda: session.predict_video(silent), 'silent.mp4'),
            (lambda: session.predict_video(short), 'short.mp4'),
            (lambda: Session(weights, model='per-trait').predict_video(clip),
             'per-trait'),
            (lambda: session.analyse_folder(str(tmp_path / 'empty')),
             'empty'),
            (lambda: session.analyse_folder(str(tmp_path / 'nowhere')),
             'nowhere'),
            (lambda: session.predict_video(fake), 'notes.mp4'),
            (lambda: session.predict_video(str(tmp_path / 'gone.mp4')),
             'gone.mp4')]:
        with pytest.raises(DeepImpressionError) as e:
            call()
        assert name in str(e.value) and '\n' not in str(e.value)
    bad = tmp_path / 'model'
    bad.write_bytes(b'not weights')
    with pytest.raises(DeepImpressionError) as e:
        Session(weights=str(bad), out=str(tmp_path)).predict_video(clip)
    assert str(bad) in str(e.value)


def test_warnings_reach_the_page_not_only_stderr(files, tmp_path):
    from deep_impression.app.session import Session
    d, weights, clip, fake = files
    # A portrait clip stretched to 456x256: predicted, with the warning.
    tall = clips.make_clip(tmp_path / 'tall.mp4', seconds=1.1,
                           size=(90, 160))
    result = Session(weights=weights, out=str(tmp_path)).predict_video(tall)
    assert len(result['warnings']) == 1 and 'tall.mp4' in \
        result['warnings'][0]
    # Every frame at 25 frames/s ran, as ffmpeg counts them.
    from deep_impression.media import count_frames
    assert result['frames'] == count_frames(tall) > 20


def test_other_commands_never_import_gradio():
    code = ('import sys; from deep_impression.cli import build_parser; '
            'build_parser(); print("gradio" in sys.modules)')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, timeout=120)
    assert out.stdout.strip() == 'False', out.stderr


def test_missing_extra_is_one_line(monkeypatch, capsys):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, 'find_spec', lambda name, *a: (
        None if name == 'gradio' else real(name, *a)))
    assert main(['app']) == 1
    err = capsys.readouterr().err
    assert "pip install 'deep-impression[app]'" in err
    assert len(err.strip().splitlines()) == 1
    assert build_parser().parse_args(['app']).host == '127.0.0.1'


# The page in a real browser.

def _missing(reason):
    if REQUIRED:
        pytest.fail(reason + ' (DEEP_IMPRESSION_REQUIRE_BROWSER is set)')
    pytest.skip(reason)


def _need(module, reason):
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError:
        _missing(reason)


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _wait(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail('{}: not within {} s'.format(what, timeout))


def _up(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def _fetch(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.status, r.read()


@pytest.fixture(scope='module')
def server(files, tmp_path_factory):
    import importlib.util
    if importlib.util.find_spec('gradio') is None:
        _missing('the app extra (Gradio) is not installed')
    d, weights, clip, fake = files
    port = _free_port()
    log = open(d / 'server.log', 'wb')
    proc = subprocess.Popen(
        [sys.executable, '-m', 'deep_impression', 'app', '--weights',
         weights, '--port', str(port), '--out', str(d / 'out')],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env=dict(os.environ, PYTHONWARNINGS='ignore'))
    url = 'http://127.0.0.1:{}/'.format(port)
    try:
        _wait(lambda: proc.poll() is not None or _up(url), 120,
              'the app serving on ' + url)
        assert proc.poll() is None, (d / 'server.log').read_text()
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        log.close()


@pytest.fixture(scope='module')
def browser():
    if not (CHROMIUM and DRIVER):
        _missing('Chromium or chromedriver is not installed (Debian: '
                 'apt-get install chromium chromium-driver)')
    webdriver = _need('selenium.webdriver',
                      'Selenium (the app-test extra) is not installed')
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ('--headless=new', '--no-sandbox', '--disable-gpu',
                 '--disable-dev-shm-usage', '--window-size=1280,1700',
                 '--autoplay-policy=no-user-gesture-required'):
        options.add_argument(flag)
    # The system driver: Selenium Manager never downloads anything.
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _sources(browser, selector, count):
    """The ``src`` of the elements ``selector`` finds, once there are
    ``count`` of them, all with a source."""
    from selenium.webdriver.common.by import By
    found = [e.get_attribute('src') for e in
             browser.find_elements(By.CSS_SELECTOR, selector)]
    return found if len(found) == count and all(found) else None


def _on_element(browser, css, action, timeout, what):
    """Run ``action(element)`` on the first element ``css`` finds, again
    while the page is still rendering it (missing or replaced)."""
    from selenium.common.exceptions import (NoSuchElementException,
                                            StaleElementReferenceException)
    from selenium.webdriver.common.by import By

    def attempt():
        try:
            action(browser.find_element(By.CSS_SELECTOR, css))
            return True
        except (NoSuchElementException, StaleElementReferenceException):
            return False
    _wait(attempt, timeout, what)


def _submit(browser, url, path):
    from selenium.webdriver.common.by import By
    browser.get(url)
    _on_element(browser, '#di-upload input[type=file]',
                lambda e: e.send_keys(path), 60, 'the upload')
    name = os.path.basename(path)
    # The page shows the name's stem and ending on separate lines.
    _wait(lambda: name in browser.find_element(
        By.ID, 'di-upload').text.replace('\n', ''), 60,
        'the uploaded file listed')
    # Clicked from script: the layout may still be settling around it.
    _on_element(browser, '#di-run', lambda e: browser.execute_script(
        'arguments[0].click();', e), 30, 'the button')


def test_page_predicts_explains_and_reports_errors(files, server, browser,
                                                   tmp_path):
    from selenium.webdriver.common.by import By
    d, weights, clip, fake = files
    start = time.time()
    _submit(browser, server, clip)
    values = _wait(lambda: browser.find_elements(
        By.CSS_SELECTOR, '#di-traits .di-value'), 180, 'the traits')
    to_traits = time.time() - start
    shown = [float(v.text) for v in values]
    names = [r.get_attribute('data-trait') for r in browser.find_elements(
        By.CSS_SELECTOR, '#di-traits .di-trait')]
    assert names == list(TRAITS)
    expected = _onnx_traits(weights, [clip])[0]
    assert all(0 <= v <= 1 for v in shown)
    numpy.testing.assert_allclose(shown, [expected[t] for t in TRAITS],
                                  atol=1e-6)
    facts = browser.find_element(By.ID, 'di-provenance').text
    assert expected['weights_sha256'] in facts and 'onnxruntime' in facts
    # Then the figures and the overlay video.
    _wait(lambda: ': done' in browser.find_element(By.ID, 'di-status').text,
          240, 'the explanation')
    to_maps = time.time() - start
    # The five traits' strips are in a closed accordion: open it.
    _on_element(browser, '#di-strips button', lambda e: browser.execute_script(
        'arguments[0].click();', e), 30, 'the accordion')
    # The contact sheet, the auditory map and the five traits' strips.
    images = _wait(lambda: _sources(browser, FIGURES, 2 + len(TRAITS)), 60,
                   'the figures')
    video = _wait(lambda: _sources(browser, '#di-video video', 1), 60,
                  'the video')
    for src in images + video:
        status, body = _fetch(src)
        assert status == 200 and len(body) > 1000, src
    assert _fetch(images[0])[1][:8] == b'\x89PNG\r\n\x1a\n'
    assert b'ftyp' in _fetch(video[0])[1][:64]
    # The browser plays it: it knows the video's length.
    _wait(lambda: browser.execute_script(
        'const v = document.querySelector("#di-video video");'
        'return v && v.readyState >= 1 && v.duration > 0;'), 30,
        'the browser reading the overlay video')
    shot = str(tmp_path / 'app.png')
    browser.save_screenshot(shot)
    assert os.path.getsize(shot) > 10000
    _write_docs_screenshot(browser)
    print('\none {:g}-s clip in the page: {:.1f} s from upload to traits, '
          '{:.1f} s to the maps and video'.format(CLIP_SECONDS, to_traits,
                                                  to_maps))

    # A text file named .mp4: the command line's one line, and the app
    # still answers afterwards.
    _submit(browser, server, fake)
    error = _wait(lambda: browser.find_elements(
        By.CSS_SELECTOR, '#di-status .di-error'), 60, 'the error line')
    text = error[0].text
    assert text.startswith('error: notes.mp4') and '\n' not in text
    assert 'Traceback' not in browser.page_source
    assert not browser.find_elements(By.CSS_SELECTOR, '#di-traits .di-value')
    assert _up(server)


def _write_docs_screenshot(browser):
    """The documentation's screenshot, when asked for: the top of the
    page, reduced to a small palette PNG."""
    target = os.environ.get('DEEP_IMPRESSION_APP_SCREENSHOT')
    if not target:
        return
    import io
    from PIL import Image
    image = Image.open(io.BytesIO(browser.get_screenshot_as_png()))
    image = image.convert('RGB')
    image.thumbnail((960, 1400))
    image.quantize(colors=128).save(target, optimize=True)
