-- SPDX-License-Identifier: MIT
-- bench/http_pipeline.lua - wrk script: every connection sends its
-- requests 16 at a time in one write (HTTP/1.1 pipelining) and reads the
-- 16 answers; the path comes from wrk's URL.
init = function(args)
	local depth = tonumber(args[1]) or 16
	local r = {}
	for i = 1, depth do
		r[i] = wrk.format(nil, nil)
	end
	req = table.concat(r)
end

request = function()
	return req
end
