-- The pgvector 0.8 surface, run unchanged on pgvector and on hnsw by
-- test/compat/run, which compares the two outputs line by line: results,
-- and the SQLSTATE of every error (VERBOSITY sqlstate hides messages,
-- which may differ).  Only SQL a pgvector application would send: where
-- hnsw accepts more (an index on a column without dimensions, a default
-- operator class, more dimensions), README.md says so.

-- vector: input, output, typmod
SELECT '[1,2,3]'::vector;
SELECT ' [ 1 , 2.5e1 , -3 ] '::vector;
SELECT '[1e-46,1]'::vector;
SELECT '[1e39]'::vector;
SELECT '[NaN]'::vector;
SELECT '[Infinity]'::vector;
SELECT '[]'::vector;
SELECT '[1,]'::vector;
SELECT '[1,2'::vector;
SELECT '1,2'::vector;
SELECT '[1,2] x'::vector;
SELECT '[a]'::vector;
SELECT '[1,2,3]'::vector(3);
SELECT '[1,2,3]'::vector(2);
SELECT '[1]'::vector(0);
SELECT '[1]'::vector(16001);
SELECT array_fill(1, ARRAY[16001])::vector;
SELECT vector_dims(array_fill(1.5, ARRAY[16000])::vector);
SELECT vector_send('[1,2,-3.5]');
SELECT '[1,2]'::vector = '[1,2]'::vector, '[1,2]'::vector < '[1,3]'::vector, '[1]'::vector < '[1,0]'::vector;
SELECT vector_cmp('[1,2]', '[1]'), vector_cmp('[1]', '[1]');

-- vector: operators and functions
SELECT '[1,2,3]'::vector <-> '[3,2,1]', '[1,2,3]'::vector <#> '[3,2,1]',
       '[1,2,3]'::vector <=> '[3,2,1]', '[1,2,3]'::vector <+> '[3,2,1]';
SELECT '[1,2]'::vector <-> '[1,2,3]';
SELECT '[1,2]'::vector <=> '[0,0]';
SELECT l2_distance('[0,0]', '[3,4]'), inner_product('[1,2]', '[3,4]'),
       cosine_distance('[1,0]', '[0,1]'), l1_distance('[1,2]', '[3,5]');
SELECT vector_negative_inner_product('[1,2]', '[3,4]'), vector_spherical_distance('[1,0]', '[0,1]');
SELECT vector_norm('[3,4]'), l2_norm('[3,4]'::vector), vector_dims('[1,2,3]'::vector);
SELECT l2_normalize('[3,4]'::vector), l2_normalize('[0,0]'::vector);
SELECT subvector('[1,2,3,4,5]'::vector, 2, 3), subvector('[1,2,3]'::vector, 0, 2);
SELECT subvector('[1,2,3]'::vector, 4, 1);
SELECT subvector('[1,2,3]'::vector, 1, 0);
SELECT '[1,2]'::vector + '[3,4]', '[1,2]'::vector - '[3,4]', '[1,2]'::vector * '[3,4]',
       '[1,2]'::vector || '[3]';
SELECT '[1,2]'::vector + '[3]';
SELECT '[3e38]'::vector + '[3e38]';
SELECT '[1e-37]'::vector * '[1e-37]';
SELECT binary_quantize('[1,-2,0,3]'::vector);

-- vector: casts
SELECT ARRAY[1,2,3]::vector, ARRAY[1.5,2]::numeric[]::vector, ARRAY[1,2]::real[]::vector,
       ARRAY[1,2]::float8[]::vector;
SELECT '[1,2]'::vector::real[];
SELECT ARRAY[[1,2],[3,4]]::vector;
SELECT ARRAY[1,NULL]::vector;
SELECT ARRAY[]::int[]::vector;
SELECT ARRAY[1e-46,1]::float8[]::vector;
SELECT ARRAY[1e39]::float8[]::vector;
SELECT ARRAY['NaN']::float8[]::vector;
SELECT ARRAY[1,2,3]::vector(2);

-- vector: aggregates
SELECT avg(v), sum(v) FROM (VALUES ('[1,2]'::vector), ('[3,4]'), (NULL)) t(v);
SELECT avg(v) FROM (VALUES ('[1,2]'::vector), ('[3]')) t(v);
SELECT avg(v), sum(v) FROM (SELECT '[1]'::vector v WHERE false) t;
SELECT vector_avg('{1}');
SELECT vector_avg('{2,4,6}');

-- halfvec
SELECT '[1,2.5,-3]'::halfvec, '[65504]'::halfvec, '[1e-8]'::halfvec;
SELECT '[65520]'::halfvec;
SELECT '[1,2]'::halfvec(3);
SELECT '[1]'::halfvec(16001);
SELECT halfvec_send('[1,2,-3.5]');
SELECT '[1,2,3]'::halfvec <-> '[3,2,1]', '[1,2,3]'::halfvec <#> '[3,2,1]',
       '[1,2,3]'::halfvec <=> '[3,2,1]', '[1,2,3]'::halfvec <+> '[3,2,1]';
SELECT l2_norm('[3,4]'::halfvec), l2_normalize('[3,4]'::halfvec), vector_dims('[1,2]'::halfvec),
       subvector('[1,2,3]'::halfvec, 2, 2), binary_quantize('[1,-1]'::halfvec);
SELECT '[1,2]'::halfvec + '[3,4]', '[1,2]'::halfvec - '[3,4]', '[1,2]'::halfvec * '[3,4]',
       '[1,2]'::halfvec || '[3]';
SELECT '[60000]'::halfvec + '[60000]';
SELECT '[1,2]'::halfvec < '[1,3]', '[1,2]'::halfvec = '[1,2]';
SELECT avg(v), sum(v) FROM (VALUES ('[1,2]'::halfvec), ('[3,4]')) t(v);
SELECT '[1.5,2]'::vector::halfvec, '[1.5,2]'::halfvec::vector, ARRAY[1,2]::halfvec,
       '[1,2]'::halfvec::real[], ARRAY[1,2]::float8[]::halfvec;
SELECT '[1e6]'::vector::halfvec;

-- sparsevec
SELECT '{1:1.5,3:2}/5'::sparsevec, '{}/3'::sparsevec, ' { 2 : 1 } / 2 '::sparsevec;
SELECT '{3:1,1:2}/5'::sparsevec;
SELECT '{1:1,1:2}/5'::sparsevec;
SELECT '{0:1}/5'::sparsevec;
SELECT '{6:1}/5'::sparsevec;
SELECT '{1:1}/0'::sparsevec;
SELECT '{1:1}/1000000001'::sparsevec;
SELECT '{1:0}/2'::sparsevec;
SELECT '{1:1}/3'::sparsevec(4);
SELECT sparsevec_send('{1:1.5,3:2}/5');
SELECT '{1:1,3:2}/3'::sparsevec <-> '{2:1}/3', '{1:1,3:2}/3'::sparsevec <#> '{3:1}/3',
       '{1:1,3:2}/3'::sparsevec <=> '{3:1}/3', '{1:1,3:2}/3'::sparsevec <+> '{2:1}/3';
SELECT '{1:1}/3'::sparsevec <-> '{1:1}/4';
SELECT l2_norm('{1:3,2:4}/2'::sparsevec), l2_normalize('{1:3,2:4}/2'::sparsevec);
SELECT '{1:1}/2'::sparsevec < '{2:1}/2', '{1:1}/2'::sparsevec = '{1:1}/2';
SELECT '[1,0,2]'::vector::sparsevec, '{1:1,3:2}/3'::sparsevec::vector,
       '[1,0,2]'::halfvec::sparsevec, '{1:1,3:2}/3'::sparsevec::halfvec;
SELECT '{1:1}/20000'::sparsevec::vector;

-- bit
SELECT B'1010' <~> B'0110', B'1010' <%> B'0110', hamming_distance(B'11', B'01'),
       jaccard_distance(B'11', B'01'), jaccard_distance(B'00', B'00');
SELECT B'101' <~> B'10';

-- settings
SET hnsw.ef_search = 100;
SHOW hnsw.ef_search;
SET hnsw.ef_search = 0;
SET hnsw.iterative_scan = relaxed_order;
SHOW hnsw.iterative_scan;
SET hnsw.iterative_scan = strict_order;
SET hnsw.iterative_scan = off;
SET hnsw.iterative_scan = sometimes;
SET hnsw.max_scan_tuples = 20000;
SET hnsw.scan_mem_multiplier = 2;
RESET ALL;

-- indexes: exact answers on small data, every operator class
CREATE TABLE items (id int PRIMARY KEY, embedding vector(3), h halfvec(3), s sparsevec(3), b bit(4), cat int);
INSERT INTO items
  SELECT i, v, v::halfvec, v::sparsevec, binary_quantize(v)::bit(4) || B'1', i % 3
    FROM (SELECT i, ARRAY[sin(i), cos(i * 1.7), sin(i * 0.3)]::vector(3) v
            FROM generate_series(1, 200) i) g;
CREATE INDEX ON items USING hnsw (embedding vector_l2_ops);
CREATE INDEX ON items USING hnsw (embedding vector_ip_ops) WITH (m = 8, ef_construction = 32);
CREATE INDEX ON items USING hnsw (embedding vector_cosine_ops);
CREATE INDEX ON items USING hnsw (embedding vector_l1_ops);
CREATE INDEX ON items USING hnsw (h halfvec_l2_ops);
CREATE INDEX ON items USING hnsw (h halfvec_cosine_ops);
CREATE INDEX ON items USING hnsw (s sparsevec_l2_ops);
CREATE INDEX ON items USING hnsw (b bit_hamming_ops);
CREATE INDEX ON items USING hnsw ((embedding::halfvec(3)) halfvec_l2_ops);
CREATE INDEX ON items USING hnsw ((binary_quantize(embedding)::bit(3)) bit_hamming_ops);
SET enable_seqscan = off;
SELECT id FROM items ORDER BY embedding <-> '[0.5,0.5,0.5]' LIMIT 5;
SELECT id FROM items ORDER BY embedding <#> '[0.5,0.5,0.5]' LIMIT 5;
SELECT id FROM items ORDER BY embedding <=> '[0.5,0.5,0.5]' LIMIT 5;
SELECT id FROM items ORDER BY embedding <+> '[0.5,0.5,0.5]' LIMIT 5;
SELECT id FROM items ORDER BY h <-> '[0.5,0.5,0.5]' LIMIT 5;
SELECT id FROM items ORDER BY h <=> '[0.5,0.5,0.5]' LIMIT 5;
SELECT id FROM items ORDER BY s <-> '{1:0.5,2:0.5,3:0.5}/3' LIMIT 5;
SELECT id FROM items ORDER BY embedding::halfvec(3) <-> '[0.5,0.5,0.5]'::halfvec(3) LIMIT 5;
SELECT id FROM items WHERE cat = 1 ORDER BY embedding <-> '[0.5,0.5,0.5]' LIMIT 5;
SELECT * FROM (SELECT id, embedding FROM items
                ORDER BY binary_quantize(embedding)::bit(3) <~> binary_quantize('[0.5,-0.5,0.5]'::vector)
                LIMIT 50) t
 ORDER BY embedding <=> '[0.5,-0.5,0.5]' LIMIT 5;
SELECT count(*) FROM (SELECT id FROM items ORDER BY embedding <-> NULL LIMIT 300) t;
SELECT count(*) FROM (SELECT id FROM items ORDER BY embedding <=> '[0,0,0]' LIMIT 300) t;
RESET enable_seqscan;

-- index errors
CREATE INDEX ON items USING hnsw (embedding vector_l2_ops) WITH (m = 1);
CREATE INDEX ON items USING hnsw (embedding vector_l2_ops) WITH (m = 101);
CREATE INDEX ON items USING hnsw (embedding vector_l2_ops) WITH (ef_construction = 3);
CREATE INDEX ON items USING hnsw (embedding vector_l2_ops) WITH (m = 16, ef_construction = 16);
CREATE INDEX ON items USING hnsw (id);
INSERT INTO items (id, embedding) VALUES (1000, '[1,2]');
CREATE TABLE nanrows (v vector(2));
CREATE INDEX ON nanrows USING hnsw (v vector_cosine_ops);
INSERT INTO nanrows VALUES ('[0,0]'), ('[1,1]'), (NULL);
SET enable_seqscan = off;
SELECT v FROM nanrows ORDER BY v <=> '[1,1]' LIMIT 5;
RESET enable_seqscan;
DROP TABLE items, nanrows;
