-- bench/proxy/small.lua: the `small` workload for wrk. One non-streamed chat completion per
-- request: a ~300-byte JSON body; the mock answers with ~1.4 KB of JSON (x-mock-words, see run).
-- wrk -s small.lua http://127.0.0.1:PORT/v1/chat/completions
wrk.method = "POST"
wrk.body = '{"model":"mock-small","messages":[' ..
  '{"role":"system","content":"You are a concise assistant. Answer in plain prose."},' ..
  '{"role":"user","content":"Summarise the trade-offs of io_uring against epoll for a proxy ' ..
  'that forwards many small HTTP requests, in about two hundred words."}],' ..
  '"max_tokens":256,"temperature":0.2}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
-- Read by mockllm on the direct and nginx arms; ringgate forwards an allowlist of client headers
-- only, so `run` also starts the mock with the same values as its defaults.
wrk.headers["x-mock-words"] = os.getenv("BENCH_MOCK_WORDS") or "205"
