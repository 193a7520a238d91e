COMMENT
LfpkRec: the loop that records every node's membrane current at each step
(lfpk_hpc.imem.CurrentRecorder, the hybrid ground truth).

NEURON keeps the i_membrane_ (nA; CVode.use_fast_imem) of all nodes of a thread in
one array in the nodes' order. With its POINTER set to the first of them,

    rec = h.LfpkRec(); h.setpointer(first_root_node._ref_i_membrane_, "first", rec)
    rec.run(vec, n, width, last)

takes n samples: sample k copies width values from there to vec[k*width : (k+1)*width]
and then advances one step (fadvance), except after the last sample unless last is 1.
vec is resized to n*width. The same as a hoc loop of Vector.from_double and
Vector.append with fadvance, without the interpreter's cost per step. Whether the
array holds the wanted segments where the caller thinks is the caller's check
(CurrentRecorder.locate, and its comparison with the segments' own pointers after
every run).
ENDCOMMENT

NEURON {
    ARTIFICIAL_CELL LfpkRec
    POINTER first
}

ASSIGNED {
    first (nA) : the first node's i_membrane_
}

VERBATIM
#include <string.h>
ENDVERBATIM

FUNCTION run() {
VERBATIM
    {
        void* vec = vector_arg(1);
        int n = (int)*getarg(2);
        int width = (int)*getarg(3);
        int last = (int)*getarg(4);
        Symbol* advance = hoc_lookup("fadvance");
        double* out;
        int k;
        if (n < 0 || width < 0 || !advance) {
            hoc_execerror("LfpkRec.run: bad arguments", 0);
        }
        vector_resize(vec, n * width);
        out = vector_vec(vec);
        for (k = 0; k < n; ++k) {
            memcpy(out + (size_t)k * width, &(first), sizeof(double) * (size_t)width);
            if (k < n - 1 || last) {
                hoc_call_func(advance, 0);
            }
        }
        _lrun = (double)n; /* the samples taken */
    }
ENDVERBATIM
}
