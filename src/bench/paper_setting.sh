#!/usr/bin/env bash
# The paper's setting (ViT-L/14 shapes, layers 20-23 = 4,096 vectors, a 50,000-concept dictionary, K=5),
# as whole processes, back to back on this machine: `./submit.sh decompose` with each --scoring setting
# and the numpy pipeline (src/bench/python/numpy_pipeline.py). Prints the processor, the load, each wall
# time and the ratios; the Parquet of both scoring settings is compared byte for byte.
#
#   src/bench/paper_setting.sh [WORK_DIR]      (needs /usr/bin/python3 with numpy and scipy for the baseline)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
W="${1:-/tmp/sith-paper-setting}"
mkdir -p "$W"
cd "$ROOT"
if [[ ! -f "$W/vit-l-14-random.safetensors" || ! -f "$W/concepts.npy" ]]; then
  echo "writing the random ViT-L/14 and the 50,000 x 768 dictionary to $W (the benchmark's generator)..." >&2
  ./submit.sh benchmark --suite decompose-paper --work "$W" >/dev/null
fi
now() { date +%s.%N; }
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
amx="no AMX"; grep -q ' amx_bf16' /proc/cpuinfo && amx="AMX"
echo "machine        $(nproc) cores, $cpu ($amx), load average $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A took
for scoring in auto fp32; do
  rm -rf "$W/out-$scoring"
  t0=$(now)
  ./submit.sh decompose --checkpoint "$W/vit-l-14-random.safetensors" --concepts "$W/concepts.npy" --vocab "$W/concepts.txt" \
    --layers 20,21,22,23 --model-name vit-l-14-random --scoring "$scoring" --out "$W/out-$scoring" >/dev/null 2>"$W/decompose-$scoring.log"
  took[$scoring]=$(echo "$(now) - $t0" | bc)
  path=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['results']; print(r.get('scoring_path'), r.get('rescored_per_choice'))" "$W/out-$scoring/_run.json")
  timings=$(python3 -c "import json,sys; t=json.load(open(sys.argv[1]))['timings_s']; print(', '.join('%s %.1f s' % kv for kv in t.items()))" "$W/out-$scoring/_run.json")
  printf 'decompose      --scoring %-5s %6.1f s whole process (products ran: %s; re-scored per choice %s)\n' "$scoring" "${took[$scoring]}" ${path}
  echo "               _run.json timings: $timings"
done
same=yes
for f in explanations singular_vectors; do
  a=$(cd "$W/out-auto/$f" && find . -name '*.parquet' | sort | xargs cat | sha256sum)
  b=$(cd "$W/out-fp32/$f" && find . -name '*.parquet' | sort | xargs cat | sha256sum)
  [[ "$a" == "$b" ]] || same=no
done
echo "outputs        auto and fp32 Parquet byte-identical: $same"
if /usr/bin/python3 -c 'import numpy, scipy' 2>/dev/null; then
  t0=$(now)
  /usr/bin/python3 src/bench/python/numpy_pipeline.py --checkpoint "$W/vit-l-14-random.safetensors" --concepts "$W/concepts.npy" \
    --vocab "$W/concepts.txt" --layers 20,21,22,23 --k 5 --lambda 0.3 --batch 64 --out "$W/numpy.npz" >"$W/numpy.log" 2>&1
  np=$(echo "$(now) - $t0" | bc)
  printf 'numpy pipeline %6.1f s whole process (64 vectors a product, dense SVD, scipy NNLS)\n' "$np"
  printf 'ratio          numpy / decompose: auto %.2f×, fp32 %.2f×\n' "$(echo "$np / ${took[auto]}" | bc -l)" "$(echo "$np / ${took[fp32]}" | bc -l)"
else
  echo "numpy pipeline skipped: /usr/bin/python3 lacks numpy or scipy (apt-get install python3-numpy python3-scipy)"
fi
echo "load average   $(cut -d' ' -f1-3 /proc/loadavg) (after)"
