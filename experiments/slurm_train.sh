#!/bin/bash
# The paper's training (900 epochs, global batch 32) on 8 GPUs over 2 nodes
# with ChainerMN's pure_nccl communicator: one rank per GPU, each with 4 of
# the 32 examples per update, gradients and batch-normalisation statistics
# all-reduced with NCCL; rank 0 writes the run directory.
#
# NOT RUN by this project: its machines have no Slurm, no NCCL and one node.
# What was run here is the same code path on 2 CPU ranks (--communicator
# naive, tests/test_distributed.py). Check on your cluster with a short run
# first (EPOCHS=3).
#
#   STORE=/shared/chalearn_store RUN=/shared/runs/paper8 sbatch \
#       experiments/slurm_train.sh
#
# Requirements on the cluster:
# * the clip store and the run directory on a file system all nodes share;
# * the package in a virtual environment every node sees, with CuPy for
#   the nodes' CUDA (`pip install -e '.[cuda12]'`) and NCCL
#   (`pip install nvidia-nccl-cu12`);
# * mpi4py built against the cluster's MPI, so that srun can start the
#   ranks (`module load openmpi; pip install --no-binary mpi4py mpi4py`);
#   the `mpich` wheel of the `mpi` extra is for single machines.
#
# A job that ends (time limit, node failure) is continued by submitting the
# script again: with a config.json in RUN it resumes from the newest
# snapshot. Resume with the same number of GPUs (the run refuses another).
#
#SBATCH --job-name=deep-impression
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=4
#SBATCH --gpus-per-node=4
#SBATCH --cpus-per-task=4
#SBATCH --time=24:00:00
#SBATCH --output=%x-%j.out

set -euo pipefail

STORE=${STORE:?set STORE to the clip store made by deep-impression preprocess}
RUN=${RUN:-runs/paper-8gpu}
VENV=${VENV:-.venv}
EPOCHS=${EPOCHS:-900}

# One rank per GPU; each rank's loaders and BLAS share its CPUs.
export OMP_NUM_THREADS=1
LOADERS=$(( ${SLURM_CPUS_PER_TASK:-4} - 1 ))

RESUME=()
if [ -f "$RUN/config.json" ]; then
    RESUME=(--resume)
fi

# --kill-on-bad-exit: a rank that dies ends the job instead of leaving the
# others waiting in an all-reduce.
srun --kill-on-bad-exit=1 "$VENV/bin/deep-impression" train "$STORE" \
    --out "$RUN" --epochs "$EPOCHS" --batchsize 32 \
    --communicator pure_nccl --loaders "$LOADERS" "${RESUME[@]}"
