#!/bin/sh
# run_mpi.sh - data-parallel training under mpirun (issue 17): the same
# script run by `mpirun -np 2 seqsh` and by one seqsh must print the same
# (rank 0 alone prints), train to the same weights up to float rounding,
# write each file once, fail once with the message of the rank that failed,
# and stop every rank at a batch boundary when one rank is signalled.
# Skipped (77) when seqsh was built without MPI or mpirun is missing.
: "${SEQSH:=$(pwd)/seqsh}"
: "${TXTCMP:=$(pwd)/tests/txtcmp}"
S=$SEQSH
"$S" --version | grep -q "^MPI: Open MPI" || { echo "SKIP: seqsh built without MPI"; exit 77; }
command -v mpirun >/dev/null 2>&1 || { echo "SKIP: no mpirun"; exit 77; }
# CI runs as root; two ranks even on a one-core machine
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# Under AddressSanitizer, Open MPI's own allocations still held at
# MPI_Finalize (in components it has unloaded, so no suppression can name
# them) would count as leaks: leak checking stays with the rest of the
# suite, which runs the same code in one process; every other error of
# the sanitizers still fails these runs.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
# no network needed: the ranks share this machine's memory
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 99
export S TXTCMP
pass=0 fail=0
ok() {  # name, then a shell command that must succeed
    name=$1; shift
    if sh -c "$*" >"$work/log" 2>&1; then pass=$((pass + 1)); echo "PASS: $name"
    else fail=$((fail + 1)); echo "FAIL: $name"; cat "$work/log"; fi
}
# np N FILE: mpirun's exit status; stdout in out.N (carriage returns of
# mpirun's terminal dropped), stderr in err.N
cat >np.sh <<'EOF'
n=$1; shift
timeout 300 mpirun -np "$n" "$S" "$@" >raw 2>"err.$n"; rc=$?
tr -d "\r" <raw >"out.$n"
exit $rc
EOF
# same N: the one-process run and the two-rank run print the same, within
# a tolerance for the order of the sums
cat >same.sh <<'EOF'
sh np.sh 2 "$@" || { cat err.2; exit 1; }
"$S" "$@" >out.1 2>err.1 || { cat err.1; exit 1; }
# progress lines carry wall times
t="s# - [0-9]+s [0-9]+(s|ms|us)/step# - T#; s# - [0-9]+s - # - T - #"
sed -E "$t" out.1 >cmp.1 && sed -E "$t" out.2 >cmp.2 &&
"$TXTCMP" -t "${TOL:-1e-4}" cmp.1 cmp.2 && cmp err.1 err.2
EOF

# A model with every kind of state a step has: batch statistics summed
# across the ranks (BatchNormalization), convolution, recurrence, an
# activity penalty, metrics with counts (auc), validation, a callback's
# file; 7 samples in batches of 3 leave rank 1 no sample in the last batch,
# batch_size=1 leaves it none in any.
cat >train.seq <<'EOF'
seed 5
input 6 6 2
add conv2d 4 3 relu padding=same
add batchnormalization
add maxpooling2d 2
add reshape (9, 4)
add lstm 5 return_sequences=true
add gru 3
add dense 1 sigmoid activity_regularizer=l2(0.01)
compile optimizer=adam loss=binary_crossentropy metrics=accuracy,auc
fit random 7 6 6 2 random 7 1 epochs=3 batch_size=3 verbose=2 validation_data=(random 3 6 6 2, ones 3 1) callbacks=csv_logger(log.csv)
fit random 3 6 6 2 ones 3 1 epochs=2 batch_size=1 verbose=2
evaluate random 5 6 6 2 zeros 5 1 batch_size=2 verbose=0
predict random 5 6 6 2 batch_size=2
weights
EOF
ok "two ranks train to one process's weights, BatchNormalization synchronised" '
  sh same.sh train.seq && [ "$(grep -c "^Epoch" out.2)" = 5 ] && [ -s log.csv ]'
ok "a csv_logger file is written once: one header, one row per epoch" '
  sh np.sh 2 train.seq && [ "$(grep -c "^epoch," log.csv)" = 1 ] && [ "$(wc -l <log.csv)" = 4 ]'

cat >mlp.seq <<'EOF'
seed 11
input 8
add dense 32 relu kernel_regularizer=l2(0.001)
add dropout 0.0
add dense 16 tanh
add dense 3 softmax
compile optimizer=sgd loss=sparse_categorical_crossentropy metrics=accuracy learning_rate=0.1 momentum=0.9 clipnorm=1.0
fit random 101 8 zeros 101 1 epochs=4 batch_size=16 verbose=2 validation_split=0.25 class_weight={0:2,1:1,2:1}
evaluate random 40 8 zeros 40 1 batch_size=7
weights dense_2
EOF
ok "sample weights, penalties, clipping and validation_split: the same numbers" '
  TOL=2e-5 sh same.sh mlp.seq'
ok "only rank 0 prints: one copy of every line" '
  sh np.sh 2 mlp.seq && "$S" mlp.seq >one && [ "$(wc -l <out.2)" = "$(wc -l <one)" ]'
ok "under mpirun -np 1 and without mpirun: the same bits" '
  sh np.sh 1 mlp.seq && "$S" mlp.seq >one || exit 1
  t="s# - [0-9]+s [0-9]+(s|ms|us)/step# - T#; s# - [0-9]+s - # - T - #"
  sed -E "$t" one >a && sed -E "$t" out.1 >b && cmp a b'

# AUC with multi_label: a block of counts per label, summed across the
# ranks like the single block (label_weights weigh the labels' areas); and
# label_weights without it (they weigh each column's counts)
printf '1,0,1\n0,1,1\n1,1,0\n0,0,1\n1,0,0\n0,1,0\n1,1,1\n0,0,0\n1,0,1\n' >ml_y.csv
printf '0.1,0.5,-0.3,0.9,0.2\n-0.4,0.3,0.8,-0.1,0.6\n0.7,-0.2,0.1,0.4,-0.5\n0.2,0.9,-0.7,0.3,0.1\n-0.6,0.4,0.5,-0.2,0.8\n0.3,-0.8,0.2,0.6,-0.1\n0.9,0.1,-0.4,-0.3,0.5\n-0.2,-0.5,0.6,0.8,-0.7\n0.5,0.6,0.3,-0.9,0.2\n' >ml_x.csv
cat >mlab.seq <<'EOF'
seed 3
input 5
add dense 3 sigmoid
compile optimizer=adam loss=binary_crossentropy metrics=auc(multi_label=true,label_weights=[1,2,3]),auc(label_weights=[3,1,1],name=aucf)
fit ml_x.csv ml_y.csv epochs=2 batch_size=4 verbose=2
evaluate ml_x.csv ml_y.csv batch_size=3
EOF
ok "multi_label AUC: each label's counts summed across the ranks" '
  sh same.sh mlab.seq && grep -q "auc: " out.2'

# A model whose output carries a mask (Embedding mask_zero through a
# recurrent layer returning sequences): the mask weighs each step of the
# loss and the metrics, times the sample weights; 7 samples in batches of
# 3, the last of one
cat >ids.csv <<'EOF'
1,2,0,0,0
0,3,4,5,1
2,0,2,0,2
5,4,3,2,1
0,0,0,0,0
3,3,0,1,0
4,0,0,0,2
EOF
cat >cls.csv <<'EOF'
0,1,2,2,2
1,0,1,2,0
2,2,0,1,1
0,0,1,1,2
1,1,1,1,1
2,1,0,0,1
0,2,1,2,0
EOF
printf "1\n2\n0.5\n3\n1\n1.5\n2\n" >sw.csv
cat >masked.seq <<'EOF'
seed 9
input 5
add embedding 6 4 mask_zero=true
add lstm 6 return_sequences=true
add timedistributed dense 3 softmax
compile optimizer=adam loss=sparse_categorical_crossentropy metrics=accuracy
fit ids.csv cls.csv epochs=3 batch_size=3 verbose=2 validation_data=ids.csv,cls.csv sample_weight=sw.csv
evaluate ids.csv cls.csv batch_size=2 verbose=0
evaluate ids.csv cls.csv batch_size=2 verbose=0 sample_weight=sw.csv
weights
EOF
ok "a masked output's loss and metrics: the same numbers" '
  sh same.sh masked.seq'

cat >files.seq <<'EOF'
seed 2
input 4
add dense 3 softmax
compile optimizer=adam loss=sparse_categorical_crossentropy
fit random 20 4 zeros 20 1 epochs=2 verbose=0
save m.seqm
save_weights w.npz
predict random 9 4 save=p.npy
history save h.seq
EOF
# what the files hold, as text
cat >show.seq <<'EOF'
load m.seqm
weights
load_weights w.npz
weights
model
input 3
add flatten
call p.npy
EOF
ok "save, save_weights, predict save= and history save: whole files, no temporary ones, one process's numbers" '
  sh np.sh 2 files.seq || exit 1
  mkdir single && cp files.seq show.seq single/ && cd single && "$S" files.seq && cd .. || exit 1
  "$S" show.seq >a && (cd single && "$S" show.seq) >b && "$TXTCMP" -t 1e-5 b a &&
  cmp h.seq single/h.seq && [ -z "$(ls -A | grep "^\.")" ]'

cat >bad.seq <<'EOF'
input 1
add dense 1 kernel_initializer=ones bias_initializer=zeros
compile optimizer=sgd loss=binary_crossentropy metrics=auc
fit range 8 1 ones 8 1 epochs=1 batch_size=4 verbose=0
echo not reached
EOF
ok "an error on every rank stops all, printed once, exit 1" '
  sh np.sh 2 bad.seq; rc=$?; [ $rc = 1 ] && [ ! -s out.2 ] &&
  [ "$(grep -c "error:" err.2)" = 1 ] && grep -q "^bad.seq:4: error: predictions must be <= 1" err.2'
# predictions 0.5 and 1.5: only rank 1's share is out of auc's range
cat >bad2.seq <<'EOF'
input 1
add dense 1 kernel_initializer=ones bias_initializer=constant(0.5)
compile optimizer=sgd loss=mse metrics=auc
evaluate range 2 1 zeros 2 1 batch_size=2 verbose=0
echo not reached
EOF
ok "an error in rank 1's share alone: reported once, by rank 0, exit 1" '
  sh np.sh 2 bad2.seq; [ $? = 1 ] && [ ! -s out.2 ] && [ "$(grep -c "error:" err.2)" = 1 ] &&
  grep -q "^bad2.seq:4: error: predictions must be <= 1 (auc sees 1.5)" err.2'

ok "SIGTERM to one rank stops both at a batch boundary; nothing after runs" '
  printf "input 64\nadd dense 256 relu\nadd dense 256 relu\nadd dense 1\ncompile optimizer=adam loss=mse\nfit random 4096 64 random 4096 1 epochs=100000 batch_size=8 verbose=0\necho AFTER\n" >long.seq
  mpirun -np 2 "$S" long.seq >out 2>err & pid=$!
  (sleep 120; kill -9 $pid) 2>/dev/null & guard=$!
  i=0; while [ $i -lt 100 ] && [ "$(pgrep -c -P $pid seqsh)" != 2 ]; do sleep 0.1; i=$((i + 1)); done
  sleep 1; kill -TERM $(pgrep -P $pid seqsh | tail -n 1)
  wait $pid; rc=$?; kill $guard 2>/dev/null
  [ $rc != 0 ] && [ $rc != 137 ] && ! grep -q AFTER out &&
  [ "$(grep -c "Interrupted" err)" = 1 ] || { echo "rc=$rc"; cat out err; exit 1; }'

ok "a stateful model runs whole on every rank: the same numbers" '
  printf "seed 4\nadd simplernn 4 stateful=true batch_input_shape=2,3,2\nadd dense 1\ncompile optimizer=adam loss=mse\nfit random 2 3 2 random 2 1 epochs=3 batch_size=2 shuffle=false verbose=2\nfit random 2 3 2 random 2 1 epochs=1 batch_size=2 shuffle=false verbose=2\nweights\n" >st.seq
  TOL=1e-6 sh same.sh st.seq'

ok "interactive use is refused under mpirun" '
  timeout 60 mpirun -np 2 "$S" </dev/null >out 2>err; [ $? != 0 ] && grep -q "under mpirun, give the commands as script files" err'

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
