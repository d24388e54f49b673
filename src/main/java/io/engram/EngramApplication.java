package io.engram;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

@SpringBootApplication
public class EngramApplication {
    public static void main(String[] args) {
        SpringApplication.run(EngramApplication.class, args);
    }
}
