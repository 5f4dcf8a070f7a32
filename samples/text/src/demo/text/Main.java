package demo.text;

import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.GraphicsEnvironment;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Draws a line of text into an image, headless, as a server that makes
 * charts, reports or diagrams does. java.desktop finds its fonts through
 * the host's fontconfig: with none, the JDK throws "Fontconfig head is
 * null" on the first text it measures. Prints the text's width, how many
 * pixels it lit and the font families found (the JDK's logical ones left
 * out); exits 1 if nothing was drawn.
 */
public class Main {
    public static void main(String[] args) {
        System.setProperty("java.awt.headless", "true");
        String text = args.length > 0 ? args[0] : "Hello, fonts";
        BufferedImage img = new BufferedImage(400, 60, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 24));
        g.setColor(Color.WHITE);
        g.drawString(text, 5, 40);
        int width = g.getFontMetrics().stringWidth(text);
        g.dispose();
        int lit = 0;
        for (int y = 0; y < img.getHeight(); y++)
            for (int x = 0; x < img.getWidth(); x++)
                if ((img.getRGB(x, y) & 0xffffff) != 0) lit++;
        List<String> logical = Arrays.asList("Dialog", "DialogInput", "Monospaced", "SansSerif", "Serif");
        List<String> families = new ArrayList<>();
        for (String f : GraphicsEnvironment.getLocalGraphicsEnvironment().getAvailableFontFamilyNames())
            if (!logical.contains(f)) families.add(f);
        System.out.println("text: " + width + " px wide, " + lit + " pixels lit");
        System.out.println("fonts: " + String.join(", ", families));
        System.exit(lit > 0 ? 0 : 1);
    }
}
