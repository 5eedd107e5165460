"""python-diameter as a client of our node: CER/CEA, CCR/CCA, ACR/ACA, an idle period long
enough for DWR/DWA, another CCR, then DPR/DPA on stop. Prints one JSON object of results."""
import json
import sys
import time

from diameter.message.constants import *
from diameter.message.commands.accounting import AccountingRequest
from diameter.message.commands.credit_control import CreditControlRequest
from diameter.node import Node
from diameter.node.application import SimpleThreadingApplication

port = int(sys.argv[1])
node = Node("py-client.example.net", "example.net")
peer = node.add_peer(f"aaa://rust-server.example.net:{port};transport=tcp", "example.net",
                     ip_addresses=["127.0.0.1"], is_persistent=True, is_default=True)
peer.idle_timeout = 1  # send a DWR after one idle second
peer.dwa_timeout = 2
cc = SimpleThreadingApplication(APP_DIAMETER_CREDIT_CONTROL_APPLICATION, is_auth_application=True)
acct = SimpleThreadingApplication(APP_DIAMETER_BASE_ACCOUNTING, is_acct_application=True)
node.add_application(cc, [peer])
node.add_application(acct, [peer])


def ccr(number):
    m = CreditControlRequest()
    m.session_id = "py-client.example.net;1;1"
    m.origin_host = b"py-client.example.net"
    m.origin_realm = b"example.net"
    m.destination_realm = b"example.net"
    m.auth_application_id = APP_DIAMETER_CREDIT_CONTROL_APPLICATION
    m.service_context_id = "32251@3gpp.org"
    m.cc_request_type = E_CC_REQUEST_TYPE_INITIAL_REQUEST if number == 0 else E_CC_REQUEST_TYPE_UPDATE_REQUEST
    m.cc_request_number = number
    m.add_subscription_id(E_SUBSCRIPTION_ID_TYPE_END_USER_E164, "491711234567")
    return m


result = {}
node.start()
try:
    cc.wait_for_ready(timeout=10)
    cca = cc.send_request(ccr(0), timeout=5)
    result["cca_result_code"] = cca.result_code
    result["cca_origin_host"] = cca.origin_host.decode()
    result["cca_session_id"] = cca.session_id
    result["cca_request_type"] = cca.cc_request_type
    result["cca_request_number"] = cca.cc_request_number

    acr = AccountingRequest()
    acr.session_id = "py-client.example.net;1;2"
    acr.origin_host = b"py-client.example.net"
    acr.origin_realm = b"example.net"
    acr.destination_realm = b"example.net"
    acr.accounting_record_type = E_ACCOUNTING_RECORD_TYPE_EVENT_RECORD
    acr.accounting_record_number = 7
    acr.acct_application_id = APP_DIAMETER_BASE_ACCOUNTING
    aca = acct.send_request(acr, timeout=5)
    result["aca_result_code"] = aca.result_code
    result["aca_record_number"] = aca.accounting_record_number

    # Idle: python sends DWR after 1 s and drops the connection if no DWA comes in 2 s.
    time.sleep(3.5)
    cca2 = cc.send_request(ccr(1), timeout=5)
    result["cca2_result_code"] = cca2.result_code
    result["cca2_request_number"] = cca2.cc_request_number
finally:
    node.stop(wait_timeout=5)
print(json.dumps(result), flush=True)
