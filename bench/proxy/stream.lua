-- bench/proxy/stream.lua: the `stream` (burst) workload for wrk. One streamed chat completion per
-- request ("stream":true): 64 SSE content chunks, no pacing. wrk reads the whole chunked body, so
-- a "request" here is a complete stream of 64 chunks plus the closing events.
-- wrk -s stream.lua http://127.0.0.1:PORT/v1/chat/completions
wrk.method = "POST"
wrk.body = '{"model":"mock-small","messages":[' ..
  '{"role":"system","content":"You are a concise assistant. Answer in plain prose."},' ..
  '{"role":"user","content":"Summarise the trade-offs of io_uring against epoll for a proxy ' ..
  'that forwards many small HTTP requests, in about two hundred words."}],' ..
  '"max_tokens":256,"temperature":0.2,"stream":true}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "text/event-stream"
wrk.headers["Authorization"] = "Bearer sk-bench"
-- Read by mockllm on the direct and nginx arms; ringgate forwards an allowlist of client headers
-- only, so `run` also starts the mock with the same values as its defaults.
wrk.headers["x-mock-chunks"] = os.getenv("BENCH_MOCK_CHUNKS") or "64"
wrk.headers["x-mock-words"] = os.getenv("BENCH_MOCK_WORDS") or "205"
wrk.headers["x-mock-delay-ms"] = "0"
