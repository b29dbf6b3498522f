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
        'librosa>=0.10',
        'imageio>=2.30',
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
    ],
    extras_require={
        'cuda12': ['cupy-cuda12x'],
        'cuda13': ['cupy-cuda13x'],
        # Training on several processes, GPUs and nodes (ChainerMN, part of
        # Chainer 7, runs over MPI): mpi4py and the `mpich` wheel, which
        # puts an MPI and its `mpiexec` into the environment, so nothing
        # has to be installed system-wide. On a cluster, build mpi4py
        # against the cluster's own MPI instead (README.rst).
        'mpi': ['mpi4py>=4', 'mpich'],
        # scikit-image only for its bundled photograph of a face (tests).
        'test': ['pytest', 'scikit-image'],
    },
    entry_points={
        'console_scripts': ['deep-impression=deep_impression.cli:main'],
    },
    classifiers=[
        'Programming Language :: Python :: 3.11',
        'Programming Language :: Python :: 3.12',
        'License :: OSI Approved :: MIT License',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
)
