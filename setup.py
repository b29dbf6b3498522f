# Install with pip (pip >= 26), from a checkout:
#     pip install --build-constraint build-constraints.txt .
# The build constraint keeps setuptools below 82 while pip builds Chainer
# 7.8.1's source archive, whose setup.py imports pkg_resources
# (docs/getting-started.rst, "Install with pip"). The build system itself is
# declared in pyproject.toml.
from setuptools import find_packages, setup

with open('README.rst', encoding='utf-8') as f:
    long_description = f.read()

setup(
    name='deep-impression',
    version='0.1.0',
    description='Deep Impression: audiovisual deep residual networks for '
                'apparent personality trait recognition, in Chainer',
    long_description=long_description,
    long_description_content_type='text/x-rst',
    license='MIT',
    packages=find_packages(include=['deep_impression', 'deep_impression.*']),
    python_requires='>=3.11',
    install_requires=[
        'chainer==7.8.1',
        'numpy>=1.26',
        'scipy',
        # The log-mel spectrogram under the auditory activation map in
        # explain's figures.
        'librosa>=0.10',
        # librosa's kaiser_best resampler (predict --decode release): the
        # resampling of librosa.load when the authors' release was written.
        'resampy',
        # The bundled ffmpeg binary: decodes every video and audio track
        # (no system ffmpeg needed) and writes explain --video's MP4.
        'imageio-ffmpeg>=0.5',
        'scikit-learn',
        'matplotlib',
        # Progress bars with rate and time left for preprocessing, training
        # and prediction: better kept than anything we would write.
        'tqdm',
        'onnx',
        'onnxruntime',
        # 4.x: OpenCV 5 wheels no longer ship the Haar face and eye cascades
        # (cv2.data) that the face detection of Ventura et al. §4.2 uses.
        'opencv-python-headless>=4.8,<5',
        # Chainer's Caffe reader (VGG-Face for DAN+, models/backbones.py);
        # ONNX needs it anyway.
        'protobuf',
    ],
    extras_require={
        'cuda12': ['cupy-cuda12x'],
        'cuda13': ['cupy-cuda13x'],
        # Training on several processes, GPUs and nodes (ChainerMN, part of
        # Chainer 7, runs over MPI): mpi4py and the `mpich` wheel, which
        # puts an MPI and its `mpiexec` into the environment, so nothing
        # has to be installed system-wide. On a cluster, build mpi4py
        # against the cluster's own MPI instead (docs/guide/distributed.rst).
        'mpi': ['mpi4py>=4', 'mpich'],
        # `deep-impression app`: Gradio serves the local web page (upload,
        # progress, figures, video, tables) without a line of JavaScript
        # of ours, and is what the field's model demos use. 6.x: the page
        # passes its theme and styles to launch(), as Gradio 6 wants.
        'app': ['gradio>=6,<7'],
        # The app's browser test (tests/test_app.py): Selenium drives the
        # system's Chromium through its chromedriver (nothing downloaded).
        'app-test': ['selenium>=4.11'],
        # scikit-image only for its bundled photograph of a face (tests).
        # docutils: README.rst must render with warnings as errors.
        # sphinx: the documentation site (docs/, `make docs`), which the
        # tests build with warnings as errors; its alabaster theme comes
        # with it.
        'test': ['pytest', 'scikit-image', 'docutils', 'sphinx'],
    },
    entry_points={
        'console_scripts': ['deep-impression=deep_impression.cli:main'],
    },
    classifiers=[
        'Programming Language :: Python :: 3.11',
        'Programming Language :: Python :: 3.12',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
)
