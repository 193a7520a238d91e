COMMENT
LfpkRec: the loop that records every node's membrane current at each step
(lfpk_hpc.imem.CurrentRecorder, the hybrid ground truth).

NEURON keeps the i_membrane_ (nA; CVode.use_fast_imem) of all nodes of a thread in
one array in the nodes' order. With its POINTER set to the first of them,

    rec = h.LfpkRec(); h.setpointer(first_root_node._ref_i_membrane_, "first", rec)
    rec.run(vec, n, width, last)

takes n samples: sample k copies width values from there to vec[k*width : (k+1)*width]
(streaming stores where the CPU has SSE2)
and then advances one step (fadvance), except after the last sample unless last is 1.
vec is resized to n*width. The same as a hoc loop of Vector.from_double and
Vector.append with fadvance, without the interpreter's cost per step. Whether the
array holds the wanted segments where the caller thinks is the caller's check
(CurrentRecorder.locate, and its comparison with the segments' own pointers after
every run).

The same loop can deliver the events of current-based synapses kept as the state A
of mod/lfpk_hsyn.mod (one per segment), in place of one LfpkTrain per segment and
NEURON's event queue: with its POINTER abase set to the A of the lowest-addressed
lfpk_hsyn instance and three Vectors of the events in time order (times in ms; the
offset of each event's A from abase, in doubles; its weight in nA),

    h.setpointer(seg_with_first_A._ref_A_lfpk_hsyn, "abase", rec); rec.kpos = 0
    rec.kick(tv, iv, wv)                       (once, after finitialize)
    rec.run(vec, n, width, last, tv, iv, wv)   (width 0: advance only)

adds wv[j] to the A at abase + iv[j] for every event j not yet delivered with
tv[j] <= t + dt/2, before each step: the rule by which NEURON's fixed step delivers
the events of its queue (kick: those with tv[j] <= t, as finitialize delivers them),
so the states are those an LfpkTrain kicking the same A would give. kpos is the
next event to deliver. Whether abase and the offsets point where the caller thinks
is the caller's check (lfpk_hpc.imem.EventKicks).
ENDCOMMENT

NEURON {
    ARTIFICIAL_CELL LfpkRec
    POINTER first, abase
    RANGE kpos
}

ASSIGNED {
    first (nA) : the first node's i_membrane_
    abase (nA) : the first lfpk_hsyn instance's A (events only)
    kpos       : the next event to deliver (events only)
}

VERBATIM
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* copy n doubles to the record with streaming stores where the CPU has them (SSE2):
   the record is read once, later, by the probes' product, so writing it around the
   caches saves the reads of its lines before each write (measured: the copy's cost
   per step 35-55 % lower, the product's a few per cent higher); the same values */
static void lfpk_copy(double* dst, const double* src, int n) {
#if defined(__SSE2__)
    int j = 0;
    if (((uintptr_t)dst & 15) != 0 && n > 0) {
        dst[0] = src[0];
        j = 1;
    }
    for (; j + 1 < n; j += 2) {
        _mm_stream_pd(dst + j, _mm_loadu_pd(src + j));
    }
    for (; j < n; ++j) {
        dst[j] = src[j];
    }
#else
    memcpy(dst, src, sizeof(double) * (size_t)n);
#endif
}

/* add the weights of the events due by tm (NEURON's rule: t + dt/2) to their A */
static int lfpk_kick(double* a, double tm, void* tv, void* iv, void* wv, double* next) {
    int n = vector_capacity(tv);
    int j = (int)*next;
    double* tt = vector_vec(tv);
    double* ii = vector_vec(iv);
    double* ww = vector_vec(wv);
    if (vector_capacity(iv) != n || vector_capacity(wv) != n || j < 0) {
        return 1;
    }
    while (j < n && tt[j] <= tm) {
        a[(long)ii[j]] += ww[j];
        ++j;
    }
    *next = (double)j;
    return 0;
}
ENDVERBATIM

FUNCTION run() {
VERBATIM
    {
        void* vec = vector_arg(1);
        int n = (int)*getarg(2);
        int width = (int)*getarg(3);
        int last = (int)*getarg(4);
        void* tv = ifarg(5) ? vector_arg(5) : NULL;
        void* iv = ifarg(6) ? vector_arg(6) : NULL;
        void* wv = ifarg(7) ? vector_arg(7) : NULL;
        Symbol* advance = hoc_lookup("fadvance");
        double* out;
        double* a = NULL;
        int k;
        if (n < 0 || width < 0 || !advance || (tv && !(iv && wv))) {
            hoc_execerror("LfpkRec.run: bad arguments", 0);
        }
        if (tv) {
            a = &(abase);
        }
        vector_resize(vec, n * width);
        out = vector_vec(vec);
        for (k = 0; k < n; ++k) {
            if (width > 0) {
                lfpk_copy(out + (size_t)k * width, &(first), width);
            }
            if (k < n - 1 || last) {
                if (a && lfpk_kick(a, t + 0.5 * dt, tv, iv, wv, &kpos)) {
                    hoc_execerror("LfpkRec.run: events of different lengths", 0);
                }
                hoc_call_func(advance, 0);
            }
        }
#if defined(__SSE2__)
        _mm_sfence(); /* the streamed record complete before anyone reads it */
#endif
        _lrun = (double)n; /* the samples taken */
    }
ENDVERBATIM
}

FUNCTION kick() {
    : kick(tv, iv, wv): deliver the events finitialize delivers (those at or before t:
    : not up to t + dt/2 as a step does; seen with LfpkTrain); returns the next one
VERBATIM
    {
        if (lfpk_kick(&(abase), t, vector_arg(1), vector_arg(2), vector_arg(3), &kpos)) {
            hoc_execerror("LfpkRec.kick: events of different lengths", 0);
        }
        _lkick = kpos;
    }
ENDVERBATIM
}
