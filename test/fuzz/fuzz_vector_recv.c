/*
 * fuzz_vector_recv.c
 *	  libFuzzer target for the vector binary parser (vector_recv).
 *
 * The first input byte, read as a signed char, is the typmod vector_recv
 * passes as the expected dimension (-1: any; 0 and other negatives cannot
 * come from a column but must still be safe); the rest is the message
 * buffer.  The output is sized as vector_recv sizes it (VectorBinaryMaxDim),
 * allocated to exactly that size, so AddressSanitizer reports any write
 * past it.
 *
 * Checks, beyond "no crash, no sanitizer report":
 *	- the parser agrees with a model written apart from it (status, dim,
 *	  position and every element's bits), which states pgvector's order of
 *	  checks: header, dimension, typmod, reserved field, then each element
 *	  cut short or not finite;
 *	- a successful parse consumed exactly its header and elements, and
 *	  encoding its elements again gives back those bytes.
 *
 *	  make fuzz && test/fuzz/fuzz_vector_recv -max_total_time=600 test/fuzz/corpus/vector_recv
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vectorparse.h"

/* VECTOR_MAX_DIM in src/vector.h (which needs the backend's headers) */
#define FUZZ_VECTOR_MAX_DIM 16000

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static VectorParseResult
Model(VectorParseStatus status, int dim, size_t pos)
{
	VectorParseResult r = {status, dim, pos};

	return r;
}

/*
 * The expected result for buf[0 .. len-1], with the elements it should
 * write to out.  Finite or not is decided on the bits: exponent all ones.
 */
static VectorParseResult
ModelParse(const uint8_t *buf, size_t len, int expdim, uint32_t *out)
{
	int			dim;
	int			unused;

	if (len < 4)
		return Model(VECTOR_PARSE_SHORT, 0, len);
	dim = (int16_t) (uint16_t) (buf[0] * 256 + buf[1]);
	unused = (int16_t) (uint16_t) (buf[2] * 256 + buf[3]);
	if (dim <= 0 || dim > FUZZ_VECTOR_MAX_DIM)
		return Model(VECTOR_PARSE_BAD_DIM, dim, 0);
	if (expdim != -1 && expdim != dim)
		return Model(VECTOR_PARSE_WRONG_DIM, dim, 0);
	if (unused != 0)
		return Model(VECTOR_PARSE_BAD_UNUSED, unused, 2);
	for (int i = 0; i < dim; i++)
	{
		const uint8_t *q = buf + 4 + 4 * (size_t) i;
		uint32_t	bits;

		if (4 + 4 * (size_t) i + 4 > len)
			return Model(VECTOR_PARSE_SHORT, i, len);
		bits = (uint32_t) q[0] << 24 | (uint32_t) q[1] << 16 |
			(uint32_t) q[2] << 8 | q[3];
		if ((bits & 0x7f800000) == 0x7f800000)
			return Model((bits & 0x007fffff) ? VECTOR_PARSE_NAN :
						 VECTOR_PARSE_INFINITE, i, 4 + 4 * (size_t) i);
		out[i] = bits;
	}
	return Model(VECTOR_PARSE_OK, dim, 4 + 4 * (size_t) dim);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *buf;
	size_t		len;
	int			expdim;
	int			maxdim;
	float	   *out;
	static uint32_t want[FUZZ_VECTOR_MAX_DIM];
	VectorParseResult r;
	VectorParseResult m;

	if (size < 1)
		return 0;
	expdim = (int8_t) data[0];
	buf = data + 1;
	len = size - 1;

	maxdim = VectorBinaryMaxDim(buf, len, FUZZ_VECTOR_MAX_DIM);
	if (maxdim < 1 || maxdim > FUZZ_VECTOR_MAX_DIM)
		abort();
	out = malloc(sizeof(float) * maxdim);

	r = VectorParseBinary(buf, len, out, maxdim, expdim);
	m = ModelParse(buf, len, expdim, want);
	if (r.status != m.status || r.dim != m.dim || r.pos != m.pos)
		abort();

	if (r.status == VECTOR_PARSE_OK)
	{
		/* the elements, and the bytes they encode to */
		for (int i = 0; i < r.dim; i++)
		{
			uint32_t	bits;
			const uint8_t *q = buf + 4 + 4 * (size_t) i;

			memcpy(&bits, &out[i], 4);
			if (bits != want[i] ||
				q[0] != (uint8_t) (bits >> 24) || q[1] != (uint8_t) (bits >> 16) ||
				q[2] != (uint8_t) (bits >> 8) || q[3] != (uint8_t) bits)
				abort();
		}
	}

	free(out);
	return 0;
}
