"""python-diameter as a server for our node. Answers CCR and ACR with DIAMETER_SUCCESS,
echoing the identifying AVPs, prints one JSON line per request, and stops on "stop" on
standard input (or after 30 seconds)."""
import json
import select
import sys
import time

from diameter.message.constants import *
from diameter.node import Node
from diameter.node.application import SimpleThreadingApplication

port = int(sys.argv[1])
node = Node("py-server.example.net", "example.net", ip_addresses=["127.0.0.1"], tcp_port=port)
peer = node.add_peer("aaa://rust-client.example.net", "example.net")


def handle(app, msg):
    ans = app.generate_answer(msg, result_code=E_RESULT_CODE_DIAMETER_SUCCESS)
    code = msg.header.command_code
    if code == 272:
        ans.cc_request_type = msg.cc_request_type
        ans.cc_request_number = msg.cc_request_number
    elif code == 271:
        ans.accounting_record_type = msg.accounting_record_type
        ans.accounting_record_number = msg.accounting_record_number
    print(json.dumps({"command": code, "session_id": msg.session_id,
                      "origin_host": msg.origin_host.decode()}), flush=True)
    return ans


cc = SimpleThreadingApplication(APP_DIAMETER_CREDIT_CONTROL_APPLICATION, is_auth_application=True,
                                request_handler=handle)
acct = SimpleThreadingApplication(APP_DIAMETER_BASE_ACCOUNTING, is_acct_application=True,
                                  request_handler=handle)
node.add_application(cc, [peer])
node.add_application(acct, [peer])
node.start()
print("READY", flush=True)
deadline = time.time() + 30
while time.time() < deadline:
    ready, _, _ = select.select([sys.stdin], [], [], 0.2)
    if ready and sys.stdin.readline().strip() == "stop":
        break
node.stop(wait_timeout=2, force=True)
print(json.dumps({"stopped": True}), flush=True)
