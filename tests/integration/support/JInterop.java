// A jinterface client for the interop tests (tests/integration/jinterface.rs):
// run as `java -cp OtpErlang.jar JInterop.java TARGET COOKIE SELF`.
// It pings TARGET, calls functions over rpc, sends to the registered name
// `echo` there, links to the process registered as `linkme` and tells it to
// exit; every outcome is one line `KEY VALUE` on stdout.

import com.ericsson.otp.erlang.*;

public class JInterop {
    public static void main(String[] args) throws Exception {
        String target = args[0];
        String cookie = args[1];
        String self = args[2];
        OtpNode node = new OtpNode(self, cookie);
        System.out.println("ping " + node.ping(target, 10000));

        OtpSelf connSelf = new OtpSelf(self + "_rpc", cookie);
        OtpConnection conn = connSelf.connect(new OtpPeer(target));
        conn.sendRPC("erlang", "node", new OtpErlangList());
        System.out.println("rpc_node " + conn.receiveRPC());
        conn.sendRPC("erlang", "system_info",
                new OtpErlangList(new OtpErlangAtom("wordsize")));
        System.out.println("rpc_wordsize " + conn.receiveRPC());
        conn.sendRPC("nosuch", "f", new OtpErlangList(new OtpErlangAtom("a")));
        System.out.println("rpc_undef " + conn.receiveRPC());
        conn.sendRPC("erlang", "whereis",
                new OtpErlangList(new OtpErlangAtom("linkme")));
        OtpErlangObject linkme = conn.receiveRPC();
        conn.close();

        OtpMbox mbox = node.createMbox();
        mbox.send("echo", target, new OtpErlangTuple(new OtpErlangObject[] {
            mbox.self(), new OtpErlangAtom("hello") }));
        System.out.println("echo " + mbox.receive(10000));

        if (!(linkme instanceof OtpErlangPid)) {
            System.out.println("link no_pid " + linkme);
            return;
        }
        OtpErlangPid pid = (OtpErlangPid) linkme;
        mbox.link(pid);
        mbox.send(pid, new OtpErlangAtom("die"));
        try {
            OtpErlangObject m = mbox.receive(10000);
            System.out.println("link no_exit " + m);
        } catch (OtpErlangExit e) {
            System.out.println("link_exit " + e.reason() + " " + e.pid().equals(pid));
        }
        node.close();
    }
}
