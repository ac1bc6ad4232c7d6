-- bit(n) distances and binary quantization, and every error with its
-- SQLSTATE (echoed after it).  Every result is pgvector 0.8's.

-- Hamming: the number of differing bits
SELECT hamming_distance(B'111', B'001');
SELECT B'111' <~> B'001';
SELECT B'1010' <~> B'1010';
SELECT B'' <~> B'';
SELECT ('x' || repeat('f0', 300))::bit(2400) <~> ('x' || repeat('0f', 300))::bit(2400);
SELECT ('x' || repeat('ff', 300))::bit(2399) <~> ('x' || repeat('00', 300))::bit(2399);
-- varbit arguments coerce to bit
SELECT B'1100'::varbit <~> B'0101'::varbit;

-- Jaccard: 1 - |a AND b| / |a OR b|; 1 when no bit is set in both
SELECT jaccard_distance(B'1100', B'1010');
SELECT B'1100' <%> B'1010';
SELECT B'1111' <%> B'1111';
SELECT B'1100' <%> B'0011';
SELECT B'0000' <%> B'0000';
SELECT B'' <%> B'';
SELECT ('x' || repeat('f0', 300))::bit(2400) <%> ('x' || repeat('ff', 300))::bit(2400);

-- different lengths
SELECT B'111' <~> B'11';
\echo :SQLSTATE
SELECT B'111' <%> B'1111';
\echo :SQLSTATE
SELECT hamming_distance(B'1', B'');
\echo :SQLSTATE
SELECT jaccard_distance(B'1', B'');
\echo :SQLSTATE

-- binary_quantize: 1 where the element is greater than zero
SELECT binary_quantize('[1,0,-1,0.5,-0,2,3,-4,5]'::vector);
SELECT binary_quantize('[-1]'::vector);
SELECT binary_quantize('[1e-45]'::vector);
SELECT length(binary_quantize(array_fill(1, ARRAY[16000])::vector));
SELECT binary_quantize('[1,-1,1,-1]'::vector) <~> binary_quantize('[1,1,1,1]'::vector);
SELECT binary_quantize('[1,-1,1,-1]'::vector) <%> binary_quantize('[1,1,-1,-1]'::vector);

-- ordering by the operators
CREATE TABLE bit_t (id int, b bit(8));
INSERT INTO bit_t VALUES (1, B'11110000'), (2, B'11111111'), (3, B'00000001'), (4, B'10100000');
SELECT id, b <~> B'11100000' AS hamming FROM bit_t ORDER BY b <~> B'11100000', id;
SELECT id, b <%> B'11100000' AS jaccard FROM bit_t ORDER BY b <%> B'11100000', id;
DROP TABLE bit_t;
