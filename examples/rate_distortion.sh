#!/usr/bin/env bash
# Rate-distortion family experiments (docs/rate_distortion.md), short CPU budgets.
# Usage: examples/rate_distortion.sh DATA_DIR   (DATA_DIR holds binarized_mnist/, mnist/, kodak/)
# Runs go to runs/ (checkpoints, resumable); results (JSON + PNG) to results/rd and results/vib.
set -euo pipefail
DATA=${1:?usage: $0 DATA_DIR}
export OMP_WAIT_POLICY=PASSIVE
T=${THREADS:-1}

# 1. NECST on binarized MNIST (existing Trainer, VIMCO K=5, BSC eps=0.1, m=100 bits)
njscc train --preset binarized_mnist --data-dir "$DATA" --epochs 3 --max-minutes 6 \
    --threads "$T" --quiet --out runs/necst_bin_bsc0.1 --resume
# ... and over a noiseless channel (eps=0: rate <= m ln2 = 69.3 nats)
njscc train --preset binarized_mnist --data-dir "$DATA" --epochs 3 --max-minutes 6 \
    --train-eps 0 --threads "$T" --quiet --out runs/necst_bin_bsc0 --resume

# 2. Broken ELBO: beta-VAE sweep, R-D plane, IWAE (K=100), GILBO, NECST placed on the plane
njscc rd-sweep --data-dir "$DATA" --betas 0.1,0.25,0.5,1,2,4,10 --epochs 4 --m 32 \
    --hidden 256,256 --iwae-k 100 --iwae-images 3000 --gilbo-steps 1000 \
    --checkpoint runs/necst_bin_bsc0.1 --checkpoint runs/necst_bin_bsc0 --runs-dir runs/rd \
    --out results/rd --threads "$T"
# learned priors at beta=1: mixture of Gaussians (10 components) and VampPrior (10 pseudo-inputs)
for P in mog vamp; do
  njscc rd-sweep --data-dir "$DATA" --betas 1 --prior $P --epochs 4 --m 32 --hidden 256,256 \
      --iwae-k 100 --iwae-images 3000 --gilbo-steps 1000 --runs-dir runs/rd_$P \
      --out results/rd/prior_$P --threads "$T"
done

# 3. Deep VIB, paper architecture (784-1024-1024-2x256, beta=1e-3, 12 test samples)
#    + deterministic baseline; calibration and OOD (Kodak crops, shuffled MNIST, noise)
njscc vib --data-dir "$DATA" --betas 1e-3 --m 256 --hidden 1024,1024 --epochs 6 \
    --runs-dir runs/vib/paper --out results/vib/paper --threads "$T"

# 3b. the same with a longer budget (7 min of training per model; 1.38 % error here)
njscc vib --data-dir "$DATA" --betas 1e-3 --m 256 --hidden 1024,1024 --epochs 30 --max-minutes 7 \
    --lr 5e-4 --runs-dir runs/vib/long --out results/vib/long --threads "$T"

# 4. VIB beta sweep, smaller encoder (784-512-512-2x256), 1 epoch each
njscc vib --data-dir "$DATA" --betas 1e-4,1e-3,1e-2,1e-1,1 --m 256 --hidden 512,512 --epochs 1 \
    --no-baseline --runs-dir runs/vib/sweep --out results/vib/sweep --threads "$T"
