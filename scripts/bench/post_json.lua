-- POSTs the JSON body in BODY (the REST token call).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("BODY")
