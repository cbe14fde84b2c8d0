// Starts DynamoDB Local bound to 127.0.0.1 only. DynamoDB Local has no host option and its
// Jetty connector listens on every interface; this launcher builds the server exactly as
// DynamoDBLocal.jar's main does, then sets the connector's host before starting it.
// Run with the single-file source launcher: java -cp 'DynamoDBLocal.jar:DynamoDBLocal_lib/*'
//   LoopbackDynamoDB.java -inMemory -disableTelemetry -port PORT
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

public class LoopbackDynamoDB {
    public static void main(String[] args) throws Exception {
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        Server server = (Server) field.get(proxy);
        for (Connector connector : server.getConnectors()) {
            if (connector instanceof ServerConnector) {
                ((ServerConnector) connector).setHost("127.0.0.1");
            }
        }
        proxy.start();
        proxy.join();
    }
}
